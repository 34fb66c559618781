// Small helpers of the console's page: building DOM nodes (never from HTML
// strings, so no registry or history value can inject markup), formatting
// times and durations, status pills and toasts.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const pad = (n, w = 2) => String(n).padStart(w, '0');
export function formatTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function shortTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function relative(ms) {
  if (!ms) return '';
  const s = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86400)}d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}
export function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}
// An execution's "Cause" cell: the failure's first line, or "output" when
// the run only printed; the whole failure and what the run printed (a
// script's stdout and stderr ends) show on hover.
export function causeCell(r) {
  const text = r.failure_cause ? r.failure_cause.split('\n')[0] : r.output ? 'output' : '';
  const title = [r.failure_cause, r.output].filter(Boolean).join('\n\n');
  return h('td', { class: r.failure_cause ? 'cause' : 'cause printed', title, text });
}

export function pill(value, cls) { return h('span', { class: `pill ${cls || value}`, text: value }); }
export const enc = encodeURIComponent;

export function toast(message, bad) {
  const el = h('div', { class: bad ? 'toast bad' : 'toast', role: 'status', text: message });
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), bad ? 9000 : 4500);
}
