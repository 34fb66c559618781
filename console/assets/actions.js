// Operations: every one asks for confirmation first, then reports what the
// console answered (a viewer sees the refusal the console sends).
import { h, enc, toast } from './util.js';
import { api, view } from './api.js';

export function confirmAction(title, text, danger) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  ok.className = danger ? 'btn btn-primary btn-danger-fill' : 'btn btn-primary';
  ok.textContent = title;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

export const ACTION_TEXT = {
  trigger: ['Trigger', (j) => `Run every item of job “${j}” now, on every live instance?`],
  resume: ['Resume', (j) => `Resume job “${j}”? It fires again from its next fire; the fires the pause held are not caught up.`],
  disable: ['Disable', (j, t) => t.server ? `Disable job “${j}” on server ${t.server}? Its instances there stop taking items.` : `Disable job “${j}” on every server? No item runs until it is enabled.`],
  enable: ['Enable', (j, t) => t.server ? `Enable job “${j}” on server ${t.server}?` : `Enable job “${j}” on every server?`],
  'disable-item': ['Disable item', (j, t) => `Disable item ${t.item} of job “${j}”? It will not run until enabled.`],
  'enable-item': ['Enable item', (j, t) => `Enable item ${t.item} of job “${j}”?`],
  shutdown: ['Shut down', (j, t) => t.server ? `Shut down the instances of job “${j}” on server ${t.server}? They finish running items and stop.` : `Shut down every instance of job “${j}”? They finish running items and stop.`],
  remove: ['Remove', (j, t) => t.server ? `Remove server ${t.server} from job “${j}”?` : `Remove job “${j}” and all its registry nodes? This cannot be undone.`],
};

export async function operate(job, action, target = {}) {
  const [title, text] = ACTION_TEXT[action];
  const danger = action === 'remove' || action === 'shutdown';
  if (!await confirmAction(title, text(job, target), danger)) return;
  try {
    await api('POST', `/api/jobs/${enc(job)}/operations/${action}`, target);
    toast(`${title}: done for ${job}${target.server ? ` on ${target.server}` : ''}${target.item !== undefined ? `, item ${target.item}` : ''}`);
    if (action === 'remove' && !target.server) location.hash = '#/';
  } catch (e) {
    toast(`${title} refused: ${e.message}`, true);
  }
}

export function opButton(label, job, action, target, cls) {
  const readOnly = view.me && view.me.role !== 'operator';
  return h('button', {
    class: `btn ${cls || ''} ${readOnly ? 'is-readonly' : ''}`.trim(),
    title: readOnly ? `Your role (${view.me.role}) cannot operate: the console will refuse` : null,
    dataset: { action, ...(target && target.item !== undefined ? { item: String(target.item) } : {}), ...(target && target.server ? { server: target.server } : {}) },
    onclick: () => operate(job, action, target || {}),
  }, label);
}

// Pausing asks for a reason and an optional end instead of a plain confirmation.
export function pauseButton(job) {
  const readOnly = view.me && view.me.role !== 'operator';
  return h('button', {
    class: `btn ${readOnly ? 'is-readonly' : ''}`.trim(),
    dataset: { action: 'pause' },
    onclick: () => pauseJob(job),
  }, 'Pause…');
}

// Opens a form dialog for `job` with its fields emptied; resolves to
// whether it was confirmed.
export function askInDialog(id, job, fields) {
  const dialog = document.getElementById(`${id}-dialog`);
  document.getElementById(`${id}-job`).textContent = job;
  for (const field of fields) document.getElementById(field).value = '';
  dialog.returnValue = 'cancel';
  const answered = new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
  dialog.showModal();
  document.getElementById(fields[0]).focus();
  return answered;
}

async function pauseJob(job) {
  if (!await askInDialog('pause', job, ['pause-reason', 'pause-until'])) return;
  const target = { reason: document.getElementById('pause-reason').value };
  const until = document.getElementById('pause-until').value.trim();
  if (until) target.until = until;
  try {
    await api('POST', `/api/jobs/${enc(job)}/operations/pause`, target);
    toast(`Pause: done for ${job}`);
  } catch (e) {
    toast(`Pause refused: ${e.message}`, true);
  }
}
