// Backfills of a job: the dialog that asks for one (a range of past fires)
// and the card that shows how far each went, polled while one runs.
import { h, enc, toast, formatTime } from './util.js';
import { api, view } from './api.js';
import { askInDialog } from './actions.js';

export function backfillButton(job) {
  const readOnly = view.me && view.me.role !== 'operator';
  return h('button', {
    class: `btn ${readOnly ? 'is-readonly' : ''}`.trim(),
    dataset: { action: 'backfill' },
    onclick: () => backfillJob(job),
  }, 'Backfill…');
}

async function backfillJob(job) {
  if (!await askInDialog('backfill', job, ['backfill-from', 'backfill-to'])) return;
  const target = { from: document.getElementById('backfill-from').value.trim() };
  const to = document.getElementById('backfill-to').value.trim();
  if (to) target.to = to;
  try {
    const answer = await api('POST', `/api/jobs/${enc(job)}/operations/backfill`, target);
    toast(`Backfill: ${answer.id} asked for`);
    refreshBackfills(job);
  } catch (e) {
    toast(`Backfill refused: ${e.message}`, true);
  }
}

export function backfillsCard(job) {
  const card = h('div', { class: 'card flush', id: 'backfills-card' }, h('div', { class: 'card-head' }, h('h2', { text: 'Backfills' }), h('span', { class: 'muted small', text: 'past fires run on request, each (item, fire) once' })));
  const list = view.backfills && view.backfills.job === job.job_name ? view.backfills.list : null;
  if (!list) { card.append(h('p', { class: 'muted', text: 'Loading…' })); return card; }
  if (!list.length) { card.append(h('p', { class: 'muted empty', id: 'no-backfills', text: 'No backfill asked for.' })); return card; }
  const rows = list.map((b) => h('tr', { dataset: { backfill: b.id, done: String(b.done) } },
    h('td', { class: 'mono', text: b.id }),
    h('td', { text: `${formatTime(b.from)} → ${formatTime(b.to)}` }),
    h('td', { class: 'num', text: `${b.started}/${b.total}` }),
    h('td', { text: b.done ? 'DONE' : 'RUNNING' }),
    h('td', { text: `${b.by}, ${formatTime(b.at)}` })));
  card.append(h('div', { class: 'table-wrap' }, h('table', { id: 'backfills-table' },
    h('thead', {}, h('tr', {}, ['Backfill', 'Fires in', 'Runs started', 'State', 'Asked by'].map((t, i) => h('th', { class: i === 2 ? 'num' : null, text: t })))),
    h('tbody', {}, rows))));
  return card;
}

let backfillTimer = null;

// Reads the job's backfills now, then every second while one is running
// and the job's page is open.
export function refreshBackfills(name) {
  clearTimeout(backfillTimer);
  backfillTimer = setTimeout(async () => {
    backfillTimer = null;
    if (view.route.name !== 'job' || view.route.job !== name) return;
    try {
      view.backfills = { job: name, list: await api('GET', `/api/jobs/${enc(name)}/backfills`) };
    } catch (e) {
      toast(`Backfills: ${e.message}`, true);
      return;
    }
    const job = view.state.registry.jobs.find((j) => j.job_name === name);
    const old = document.getElementById('backfills-card');
    if (old && job) old.replaceWith(backfillsCard(job));
    if (view.backfills.list.some((b) => !b.done)) refreshBackfills(name);
  }, view.backfills && view.backfills.job === name ? 1000 : 0);
}
