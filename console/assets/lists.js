// The execution history and the audit log: filters, a table, paging.
import { h, pill, causeCell, pad, formatTime, shortTime, duration, enc } from './util.js';
import { api, view } from './api.js';
import { instanceLabel } from './job.js';

export function datetimeToMillis(value) { return value ? String(new Date(value).getTime()) : ''; }

export function filterForm(fields, onSubmit, values) {
  const form = h('form', { class: 'filters', id: 'filters' });
  for (const [name, label, kind, options] of fields) {
    let input;
    if (kind === 'select') input = h('select', { name }, options.map((o) => h('option', { value: o, selected: values[name] === o, text: o || 'any' })));
    else input = h('input', { name, type: kind, value: values[name] || '', placeholder: kind === 'text' ? 'any' : null, size: kind === 'number' ? 5 : null });
    form.append(h('label', {}, label, input));
  }
  form.append(h('button', { class: 'btn btn-primary', type: 'submit', text: 'Apply' }), h('button', { class: 'btn', type: 'button', text: 'Clear', onclick: () => onSubmit({}) }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    onSubmit(data);
  });
  return form;
}

export function queryOf(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) q.set(k, v);
  return q.toString();
}

export async function renderList(page, kind) {
  const route = view.route;
  const params = Object.fromEntries(new URLSearchParams(route.query || '').entries());
  const jobs = ['', ...view.state.registry.jobs.map((j) => j.job_name), ...Object.keys(view.state.history.jobs)].filter((v, i, a) => a.indexOf(v) === i);
  const go = (values) => { location.hash = `#/${kind}?${queryOf(values)}`; };
  const toForm = (p) => ({ ...p, since: p.since ? toLocalInput(Number(p.since)) : '', until: p.until ? toLocalInput(Number(p.until)) : '' });
  const fromForm = (d) => ({ ...d, since: datetimeToMillis(d.since), until: datetimeToMillis(d.until), offset: '' });
  let title; let fields; let path; let columns; let row; let empty;
  if (kind === 'history') {
    const statusMode = params.view === 'status';
    title = 'Execution history';
    path = statusMode ? '/api/statuses' : '/api/history';
    fields = statusMode
      ? [['job', 'Job', 'select', jobs], ['instance', 'Instance', 'text'], ['state', 'State', 'select', ['', 'RESHARDED', 'MISFIRED', 'STUCK_ITEMS', 'FAILOVER_TAKEN', 'TRIGGERED', 'DISABLED', 'ENABLED', 'PAUSED', 'ERROR', 'STOPPED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']]
      : [['job', 'Job', 'select', jobs], ['item', 'Item', 'number'], ['instance', 'Instance', 'text'], ['outcome', 'Outcome', 'select', ['', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']];
    columns = statusMode ? ['Time', 'Job', 'State', 'Instance', 'Items', 'Message'] : ['Started', 'Job', 'Item', 'Instance', 'Duration', 'Outcome', 'Source', 'Fire', 'Cause'];
    row = statusMode
      ? (r) => h('tr', {}, h('td', { text: formatTime(r.creation_time) }), h('td', {}, h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name })), h('td', {}, pill(r.state, r.state === 'ERROR' ? 'bad' : r.state === 'MISFIRED' || r.state === 'STUCK_ITEMS' ? 'warn' : r.state === 'FAILOVER_TAKEN' ? 'fo' : 'off')), h('td', { class: 'mono', text: instanceLabel(r.instance_id) }), h('td', { text: r.sharding_item }), h('td', { class: 'wrap small', text: r.message }))
      : (r) => h('tr', { dataset: { outcome: r.outcome } }, h('td', { text: formatTime(r.start_time) }), h('td', {}, h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name })), h('td', { class: 'num', text: String(r.sharding_item) }), h('td', { class: 'mono', text: instanceLabel(r.instance_id) }), h('td', { class: 'num', text: duration(r.complete_time - r.start_time) }), h('td', {}, pill(r.outcome)), h('td', {}, r.failover ? pill('FAILOVER') : h('span', { class: 'muted small', text: r.execution_source })), h('td', { class: 'small muted', text: shortTime(r.fire_time) }), causeCell(r));
    empty = 'No runs match.';
    page.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: title }), h('div', { class: 'sub', text: 'Every item run and status change the schedulers recorded, newest first' })),
      h('div', { class: 'segmented' },
        h('button', { class: statusMode ? '' : 'active', onclick: () => { location.hash = '#/history'; } }, 'Runs'),
        h('button', { class: statusMode ? 'active' : '', onclick: () => { location.hash = '#/history?view=status'; } }, 'Status changes'))));
    if (!view.state.history.configured) {
      page.append(h('div', { class: 'card empty', text: 'No execution history: start the console with --history URL (sqlite://PATH or postgres://…).' }));
      return;
    }
    const submit = (d) => go({ ...fromForm(d), view: statusMode ? 'status' : '' });
    page.append(h('div', { class: 'card' }, filterForm(fields, submit, toForm(params))));
  } else {
    title = 'Audit log';
    path = '/api/audit';
    fields = [['job', 'Job', 'select', jobs], ['actor', 'User', 'text'], ['action', 'Operation', 'select', ['', 'trigger', 'disable', 'enable', 'disable-item', 'enable-item', 'shutdown', 'remove', 'update-config', 'login']], ['outcome', 'Outcome', 'select', ['', 'OK', 'DENIED', 'FAILED']], ['since', 'From', 'datetime-local'], ['until', 'Until', 'datetime-local']];
    columns = ['Time', 'User', 'Role', 'Operation', 'Job', 'Target', 'Outcome', 'Detail', 'From'];
    row = (r) => h('tr', { dataset: { action: r.action, outcome: r.outcome, actor: r.actor } }, h('td', { text: formatTime(r.creation_time) }), h('td', { text: r.actor }), h('td', { class: 'muted', text: r.role }), h('td', {}, h('code', { text: r.action })), h('td', {}, r.job_name ? h('a', { href: `#/job/${enc(r.job_name)}`, text: r.job_name }) : ''), h('td', { text: r.target }), h('td', {}, pill(r.outcome, r.outcome === 'OK' ? 'ok' : r.outcome === 'DENIED' ? 'bad' : 'warn')), h('td', { class: 'wrap small', text: r.detail }), h('td', { class: 'mono muted', text: r.remote_addr }));
    empty = 'No operations recorded.';
    page.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: title }), h('div', { class: 'sub', text: view.state.history.configured ? 'Every operation asked of the console — done, denied or failed — kept in the history database' : 'Every operation asked of the console (kept in memory: start with --history to keep it)' }))));
    page.append(h('div', { class: 'card' }, filterForm(fields, (d) => go(fromForm(d)), toForm(params))));
  }
  const tbody = h('tbody', {}, h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: 'Loading…' })));
  const pager = h('div', { class: 'pager' });
  page.append(h('div', { class: 'card flush' }, h('div', { class: 'table-wrap' }, h('table', { id: `${kind}-table` }, h('thead', {}, h('tr', {}, columns.map((c) => h('th', { text: c })))), tbody)), pager));
  try {
    const data = await api('GET', `${path}?${queryOf({ ...params, view: undefined })}`);
    tbody.replaceChildren(...(data.rows.length ? data.rows.map(row) : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: empty }))]));
    const offset = Number(params.offset || 0);
    pager.append(
      h('span', { text: data.rows.length ? `Rows ${offset + 1}–${offset + data.rows.length}` : '' }),
      h('div', { class: 'actions' },
        h('button', { class: 'btn btn-small', disabled: offset === 0, onclick: () => go({ ...params, offset: String(Math.max(0, offset - data.limit)) }) }, '← Newer'),
        h('button', { class: 'btn btn-small', disabled: !data.has_more, onclick: () => go({ ...params, offset: String(offset + data.limit) }) }, 'Older →')));
  } catch (e) {
    tbody.replaceChildren(h('tr', {}, h('td', { colspan: columns.length, class: 'empty', text: e.message })));
  }
}

export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
