// elasticjob console: a single page on the console's JSON API. The cluster
// view arrives over Server-Sent Events (/api/events), pushed by the
// console's one ZooKeeper watcher; the page never polls the registry.
import { h, relative } from './util.js';
import { api, view } from './api.js';
import { renderOverview } from './overview.js';
import { renderJob } from './job.js';
import { renderList } from './lists.js';
import { saveConfig } from './config.js';


// ---------- header ----------

function renderHeader() {
  const state = view.state;
  const zk = document.getElementById('zk-state');
  if (state) {
    const s = state.registry.state;
    zk.className = `conn ${s === 'CONNECTED' ? 'ok' : s === 'SUSPENDED' || s === 'CONNECTING' ? 'warn' : 'bad'}`;
    zk.lastElementChild.textContent = `ZooKeeper ${s.toLowerCase()}`;
    zk.title = `The console's one ZooKeeper session ${state.registry.session_id || ''}; ${state.registry.reconnects} reconnects`;
  }
  const banner = document.getElementById('banner');
  const problems = [];
  if (state && state.registry.error) problems.push(state.registry.error);
  if (state && state.registry.state !== 'CONNECTED') problems.push(`ZooKeeper session ${state.registry.state.toLowerCase()}: the page shows the last state read.`);
  if (state && state.history.error) problems.push(`History: ${state.history.error}`);
  banner.hidden = problems.length === 0;
  banner.textContent = problems.join(' · ');
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === (view.route && view.route.nav));
  }
}

function setLive(ok, text) {
  const live = document.getElementById('live-state');
  live.className = `conn ${ok ? 'ok' : 'warn'}`;
  live.lastElementChild.textContent = text;
}

function parseRoute() {
  const [path, query] = (location.hash || '#/').slice(1).split('?');
  if (path.startsWith('/job/')) return { name: 'job', nav: 'overview', job: decodeURIComponent(path.slice(5)) };
  if (path === '/history') return { name: 'history', nav: 'history', query };
  if (path === '/audit') return { name: 'audit', nav: 'audit', query };
  return { name: 'overview', nav: 'overview' };
}

function render(full) {
  renderHeader();
  if (!view.state || !view.me) return;
  const route = view.route;
  const key = location.hash;
  // Lists change only when asked (filters, paging), not with the cluster.
  if (!full && (route.name === 'history' || route.name === 'audit') && view.rendered === key) return;
  if (document.querySelector('dialog[open]') && !full) {
    view.pending = true; // do not rebuild the page under an open dialog
    return;
  }
  const page = h('main', { id: 'page', class: 'page', 'aria-live': 'polite' });
  if (route.name === 'job') renderJob(page, route.job);
  else if (route.name === 'history') renderList(page, 'history');
  else if (route.name === 'audit') renderList(page, 'audit');
  else renderOverview(page);
  const scroll = window.scrollY;
  view.rendered = key;
  document.getElementById('page').replaceWith(page);
  if (!full) window.scrollTo(0, scroll);
  document.title = route.name === 'job' ? `${route.job} · elasticjob console` : 'elasticjob console';
}

function connectEvents() {
  const source = new EventSource('/api/events');
  source.addEventListener('state', (event) => {
    view.state = JSON.parse(event.data);
    setLive(true, 'live');
    render(false);
  });
  source.onopen = () => setLive(true, 'live');
  source.onerror = async () => {
    setLive(false, 'reconnecting');
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the login expired): check, then reopen.
      try { await api('GET', '/api/me'); } catch (e) { /* api() sends to the login page on 401 */ }
      setTimeout(connectEvents, 2000);
    }
  };
}

async function start() {
  try {
    view.me = await api('GET', '/api/me');
  } catch (e) {
    if (e.status === 401) { location.assign('/login' + location.hash); return; }
    document.getElementById('page').replaceChildren(h('div', { class: 'card empty', text: `Cannot reach the console: ${e.message}` }));
    return;
  }
  const user = document.getElementById('user');
  user.replaceChildren(h('span', { text: view.me.name }), h('span', { class: 'role', id: 'role', text: view.me.role }));
  const logout = document.getElementById('logout');
  logout.hidden = !view.me.users || view.me.via !== 'session';
  logout.addEventListener('click', async () => {
    try { await api('POST', '/api/logout'); } finally { location.assign('/login'); }
  });
  document.getElementById('config-form').addEventListener('submit', saveConfig);
  document.getElementById('config-cancel').addEventListener('click', () => document.getElementById('config-dialog').close());
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('close', () => { if (view.pending) { view.pending = false; render(false); } });
  }
  view.route = parseRoute();
  window.addEventListener('hashchange', () => { view.route = parseRoute(); render(true); });
  setInterval(() => { for (const el of document.querySelectorAll('[data-rel]')) { const text = relative(Number(el.dataset.rel)); el.textContent = el.textContent.startsWith('(') ? `(${text})` : text; } }, 1000);
  connectEvents();
}

start();
