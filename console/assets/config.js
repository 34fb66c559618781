// The job configuration form: filled from the job's config node, checked
// by the console with the core's own validation; an error is shown beside
// the field it names.
import { h, enc, toast } from './util.js';
import { api } from './api.js';
import { confirmAction } from './actions.js';

export const CONFIG_FIELDS = [
  ['cron', 'Cron', 'text', 'Quartz syntax with seconds; empty: trigger only'],
  ['timeZone', 'Time zone', 'text', 'IANA name or GMT+08:00; empty: UTC'],
  ['shardingTotalCount', 'Items (shardingTotalCount)', 'number', ''],
  ['shardingItemParameters', 'Item parameters', 'text', 'e.g. 0=Beijing,1=Shanghai'],
  ['jobParameter', 'Job parameter', 'text', ''],
  ['description', 'Description', 'text', ''],
  ['jobShardingStrategyType', 'Sharding strategy', 'text', 'AVG_ALLOCATION, ODEVITY, ROUND_ROBIN, SINGLE_SHARDING_BALANCE'],
  ['jobExecutorServiceHandlerType', 'Executor', 'text', 'CPU or SINGLE_THREAD'],
  ['jobErrorHandlerType', 'Error handler', 'text', 'LOG, IGNORE, THROW, WEBHOOK, …'],
  ['maxTimeDiffSeconds', 'Max clock difference (s)', 'number', '-1: off'],
  ['reconcileIntervalMinutes', 'Reconcile interval (min)', 'number', '0: off'],
  ['failover', 'Failover', 'checkbox', ''],
  ['misfire', 'Misfire', 'checkbox', ''],
  ['monitorExecution', 'Monitor execution', 'checkbox', ''],
  ['staticSharding', 'Static sharding', 'checkbox', ''],
  ['disabled', 'Start disabled', 'checkbox', ''],
  ['props', 'Props (key=value per line)', 'textarea', ''],
];

export async function openConfig(name) {
  let data;
  try { data = await api('GET', `/api/jobs/${enc(name)}/config`); } catch (e) { toast(e.message, true); return; }
  const dialog = document.getElementById('config-dialog');
  document.getElementById('config-job').textContent = name;
  document.getElementById('config-error').hidden = true;
  const fields = document.getElementById('config-fields');
  fields.replaceChildren();
  for (const [key, label, type, hint] of CONFIG_FIELDS) {
    const value = data.fields[key];
    let input;
    if (type === 'checkbox') input = h('input', { type: 'checkbox', name: key, id: `cfg-${key}`, checked: !!value });
    else if (type === 'textarea') input = h('textarea', { name: key, id: `cfg-${key}` }, Object.entries(value || {}).map(([k, v]) => `${k}=${v}`).join('\n'));
    else input = h('input', { type, name: key, id: `cfg-${key}`, value: value === null || value === undefined ? '' : String(value) });
    const wide = type === 'textarea' || key === 'description';
    const field = type === 'checkbox'
      ? h('label', { class: 'field check', 'data-field': key }, input, h('span', { text: label }), h('div', { class: 'field-error', 'data-error-for': key, hidden: true }))
      : h('label', { class: `field${wide ? ' full' : ''}`, 'data-field': key }, h('span', { text: label }), input, hint ? h('span', { class: 'hint', text: hint }) : null, h('div', { class: 'field-error', 'data-error-for': key, hidden: true }));
    fields.append(field);
  }
  dialog.dataset.job = name;
  dialog.showModal();
}

export function clearFieldErrors() {
  for (const f of document.querySelectorAll('#config-fields .field')) f.classList.remove('invalid');
  for (const e of document.querySelectorAll('#config-fields .field-error')) { e.hidden = true; e.textContent = ''; }
  document.getElementById('config-error').hidden = true;
}

export async function saveConfig(event) {
  event.preventDefault();
  const dialog = document.getElementById('config-dialog');
  const name = dialog.dataset.job;
  clearFieldErrors();
  const form = {};
  for (const [key, , type] of CONFIG_FIELDS) {
    const input = document.getElementById(`cfg-${key}`);
    form[key] = type === 'checkbox' ? input.checked : input.value;
  }
  if (!await confirmAction('Save', `Write the new configuration of job “${name}” to ZooKeeper? Live instances apply it at once.`)) return;
  try {
    const result = await api('POST', `/api/jobs/${enc(name)}/config`, form);
    dialog.close();
    toast(result.changed.length ? `Configuration of ${name} saved: ${result.changed.join(', ')}` : `Nothing changed in ${name}`);
  } catch (e) {
    const field = e.body && e.body.field;
    const slot = field && document.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = e.body.reason ? `${e.body.reason} (got “${e.body.value}”)` : e.message;
      slot.hidden = false;
      slot.parentElement.classList.add('invalid');
      const input = document.getElementById(`cfg-${field}`);
      if (input) input.focus();
    } else {
      const box = document.getElementById('config-error');
      box.textContent = e.message;
      box.hidden = false;
    }
  }
}
