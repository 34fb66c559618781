// A job's page: the items x instances grid, instances and servers with
// their operations, the timeline of recent fires from the history, and
// the job's backfills.
import { h, pill, causeCell, shortTime, relative, duration, formatTime, enc, toast } from './util.js';
import { api, view } from './api.js';
import { opButton, pauseButton } from './actions.js';
import { backfillButton, backfillsCard, refreshBackfills } from './backfills.js';
import { openConfig } from './config.js';

export function instanceLabel(id) {
  const [ip, pid] = id.split('@-@');
  return pid ? `${ip} · ${pid}` : id;
}

export function itemsGrid(job) {
  const live = job.instances.map((i) => i.instance_id);
  const orphaned = job.items.some((i) => i.instance_id && !live.includes(i.instance_id)) || job.items.some((i) => !i.instance_id);
  const head = h('tr', {}, h('th', { text: 'Item' }),
    job.instances.map((i) => h('th', { class: 'inst', title: i.instance_id }, instanceLabel(i.instance_id), i.leader ? h('span', { class: 'tag leader', text: 'leader' }) : null, i.enabled ? null : h('span', { class: 'tag off', text: 'disabled' }))),
    orphaned ? h('th', { class: 'inst', text: 'not live' }) : null,
    h('th', { text: 'State' }), h('th', { text: '' }));
  const rows = job.items.map((item) => {
    const cells = job.instances.map((inst) => {
      let content = h('span', { class: 'dot-free', text: '·' });
      if (item.instance_id === inst.instance_id) content = h('span', { class: `chip ${item.state}`, text: item.state === 'SHARDING_FLAG' ? 'RESHARDING' : item.state });
      if (item.failover_instance === inst.instance_id) content = h('span', { class: 'chip failover', text: 'FAILOVER' });
      return h('td', { class: 'cell' }, content);
    });
    const gone = orphaned ? h('td', { class: 'cell' }, item.instance_id && !live.includes(item.instance_id) ? h('span', { class: 'chip SHARDING_FLAG', title: item.instance_id, text: instanceLabel(item.instance_id) }) : !item.instance_id ? h('span', { class: 'chip SHARDING_FLAG', text: 'UNASSIGNED' }) : h('span', { class: 'dot-free', text: '·' })) : null;
    const toggle = item.state === 'DISABLED'
      ? opButton('Enable', job.job_name, 'enable-item', { item: item.item }, 'btn-small')
      : opButton('Disable', job.job_name, 'disable-item', { item: item.item }, 'btn-small');
    return h('tr', { dataset: { item: String(item.item), owner: item.instance_id || '', state: item.state } },
      h('td', { text: String(item.item) }), cells, gone,
      h('td', {}, pill(item.state), item.running_fire ? h('span', { class: 'muted small', text: ` fire ${shortTime(item.running_fire)}` }) : null),
      h('td', {}, toggle));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'grid-table', id: 'items-grid' }, h('thead', {}, head), h('tbody', {}, rows)));
}

export function serversTable(job) {
  const rows = job.servers.map((s) => h('tr', { dataset: { server: s.ip } },
    h('td', { class: 'mono', text: s.ip }),
    h('td', {}, s.enabled ? pill('ENABLED', 'ok') : pill('DISABLED')),
    h('td', { class: 'num', text: String(s.instance_count) }),
    h('td', {}, h('div', { class: 'actions' },
      s.enabled ? opButton('Disable', job.job_name, 'disable', { server: s.ip }, 'btn-small') : opButton('Enable', job.job_name, 'enable', { server: s.ip }, 'btn-small'),
      s.instance_count ? opButton('Shut down', job.job_name, 'shutdown', { server: s.ip }, 'btn-small btn-danger') : opButton('Remove', job.job_name, 'remove', { server: s.ip }, 'btn-small btn-danger'))),
  ));
  return h('table', {}, h('thead', {}, h('tr', {}, ['Server', 'State', 'Instances', ''].map((t, i) => h('th', { class: i === 2 ? 'num' : null, text: t })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No servers.' }))));
}

export function instancesTable(job) {
  const rows = job.instances.map((i) => h('tr', {},
    h('td', { class: 'mono', text: i.instance_id }),
    h('td', { class: 'mono', text: i.server_ip }),
    h('td', {}, i.leader ? h('span', { class: 'tag leader', text: 'leader' }) : ''),
    h('td', { class: 'num', text: String(job.items.filter((it) => it.instance_id === i.instance_id).length) })));
  return h('table', {}, h('thead', {}, h('tr', {}, ['Instance', 'Server', 'Role', 'Items'].map((t, i) => h('th', { class: i === 3 ? 'num' : null, text: t })))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No live instance.' }))));
}

export function timelineCard(job) {
  const card = h('div', { class: 'card', id: 'timeline-card' }, h('div', { class: 'card-head' }, h('h2', { text: 'Recent fires' }), h('span', { class: 'muted small', text: 'from the execution history' })));
  if (!view.state.history.configured) {
    card.append(h('p', { class: 'muted', text: 'No execution history: start the console with --history URL to see which instance ran which item, for how long, and what failed.' }));
    return card;
  }
  const data = view.timeline && view.timelineKey && view.timelineKey.startsWith(`${job.job_name}\u0000`) ? view.timeline : null;
  if (!data) { card.append(h('p', { class: 'muted', text: 'Loading…' })); return card; }
  const runs = data.executions;
  const marks = data.statuses.filter((s) => ['MISFIRED', 'TRIGGERED', 'FAILOVER_TAKEN'].includes(s.state));
  if (!runs.length && !marks.length) { card.append(h('p', { class: 'muted', id: 'no-runs', text: 'No runs recorded yet.' })); return card; }
  const now = Date.now();
  const oldest = Math.min(...runs.map((r) => r.start_time), ...marks.map((m) => m.creation_time), now - 20000);
  const t0 = Math.max(oldest, now - 30 * 60000);
  const span = Math.max(now - t0, 1);
  const pos = (t) => `${Math.max(0, Math.min(100, (100 * (t - t0)) / span))}%`;
  const axis = h('div', { class: 'tl-axis' }, [0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { text: shortTime(t0 + f * span) })));
  const lanes = job.items.map((item) => {
    const track = h('div', { class: 'tl-track' });
    for (const r of runs.filter((r) => r.sharding_item === item.item && r.complete_time >= t0)) {
      const bar = h('div', { class: `tl-bar ${r.outcome}${r.failover ? ' fo' : ''}`, title: `item ${r.sharding_item} · ${r.outcome}${r.failover ? ' · failover' : ''}\n${instanceLabel(r.instance_id)}\nstarted ${formatTime(r.start_time)} · ${duration(r.complete_time - r.start_time)}\nfire ${formatTime(r.fire_time)}${r.failure_cause ? `\n${r.failure_cause.split('\n')[0]}` : ''}` });
      bar.style.left = pos(r.start_time);
      bar.style.width = `${Math.max(0.35, (100 * (r.complete_time - r.start_time)) / span)}%`;
      track.append(bar);
    }
    for (const m of marks.filter((m) => m.sharding_item.split(',').includes(String(item.item)) && m.creation_time >= t0)) {
      const mark = h('div', { class: `tl-mark ${m.state}`, title: `${m.state} · ${formatTime(m.creation_time)} · ${instanceLabel(m.instance_id)}${m.message ? `\n${m.message}` : ''}` });
      mark.style.left = pos(m.creation_time);
      track.append(mark);
    }
    return h('div', { class: 'tl-lane' }, h('div', { class: 'tl-label', text: `item ${item.item}` }), track);
  });
  const legend = h('div', { class: 'legend' },
    h('span', {}, h('i', { class: 'l-ok' }), 'succeeded'),
    h('span', {}, h('i', { class: 'l-failed' }), 'failed'),
    h('span', {}, h('i', { class: 'l-timeout' }), 'timed out'),
    h('span', {}, h('i', { class: 'l-fo' }), 'failover'),
    h('span', {}, h('i', { class: 'mark' }), 'misfire'),
    h('span', {}, h('i', { class: 'mark TRIGGERED' }), 'trigger'));
  const table = h('table', { id: 'runs-table' },
    h('thead', {}, h('tr', {}, ['Started', 'Item', 'Instance', 'Duration', 'Outcome', 'Source', 'Cause'].map((t, i) => h('th', { class: i === 1 || i === 3 ? 'num' : null, text: t })))),
    h('tbody', {}, runs.slice(0, 12).map((r) => h('tr', { dataset: { item: String(r.sharding_item), outcome: r.outcome, start: String(r.start_time) } },
      h('td', { text: formatTime(r.start_time) }),
      h('td', { class: 'num', text: String(r.sharding_item) }),
      h('td', { class: 'mono', text: instanceLabel(r.instance_id) }),
      h('td', { class: 'num', text: duration(r.complete_time - r.start_time) }),
      h('td', {}, pill(r.outcome)),
      h('td', {}, r.failover ? pill('FAILOVER') : h('span', { class: 'muted small', text: r.execution_source })),
      causeCell(r)))));
  card.append(h('div', { class: 'timeline' }, axis, lanes), legend, h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'more' }, h('a', { href: `#/history?job=${enc(job.job_name)}`, text: 'All runs of this job in the history →' })));
  return card;
}

export function renderJob(page, name) {
  const job = view.state.registry.jobs.find((j) => j.job_name === name);
  if (!job) {
    page.append(h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Jobs' }), ' / ', name),
      h('div', { class: 'card empty', text: view.state.registry.state === 'CONNECTED' ? `There is no job “${name}” in this namespace (removed?).` : 'Connecting to ZooKeeper…' }));
    return;
  }
  const readOnly = view.me.role !== 'operator';
  const allDisabled = job.servers.length && job.servers.every((s) => !s.enabled);
  page.append(
    h('div', { class: 'crumbs' }, h('a', { href: '#/', text: 'Jobs' }), ' / ', job.job_name),
    h('div', { class: 'page-head' },
      h('div', {},
        h('h1', { id: 'job-title' }, job.job_name, ' ', pill(job.status)),
        h('div', { class: 'sub' },
          job.cron ? h('span', {}, 'cron ', h('code', { text: job.cron }), job.time_zone ? ` (${job.time_zone})` : '') : h('span', { text: 'trigger only (no cron)' }),
          job.next_fire_time ? h('span', {}, `next fire ${formatTime(job.next_fire_time)} `, h('span', { 'data-rel': job.next_fire_time, text: `(${relative(job.next_fire_time)})` })) : null,
          h('span', { text: `${job.sharding_total_count} items · ${job.instance_count} instances` }),
          h('span', { text: `failover ${job.failover ? 'on' : 'off'} · misfire ${job.misfire ? 'on' : 'off'}` })),
        job.description ? h('div', { class: 'muted', text: job.description }) : null,
        job.pause ? h('div', { class: 'pause-note', id: 'pause-note', text: pauseText(job.pause) }) : null),
      h('div', { class: 'actions' },
        readOnly ? h('span', { class: 'readonly-note', text: 'read-only: viewer' }) : null,
        opButton('Trigger now', job.job_name, 'trigger', {}, 'btn-primary'),
        job.pause ? opButton('Resume', job.job_name, 'resume', {}) : pauseButton(job.job_name),
        job.cron ? backfillButton(job.job_name) : null,
        allDisabled ? opButton('Enable job', job.job_name, 'enable', {}) : opButton('Disable job', job.job_name, 'disable', {}),
        h('button', { class: 'btn', id: 'edit-config', onclick: () => openConfig(job.job_name) }, 'Edit config'),
        opButton('Shut down', job.job_name, 'shutdown', {}, 'btn-danger'),
        opButton('Remove', job.job_name, 'remove', {}, 'btn-danger'))),
    h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Items × instances' }), h('span', { class: 'muted small', text: 'who owns each item now, live' })), itemsGrid(job)),
    h('div', { class: 'two-col' },
      h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Instances' })), h('div', { class: 'table-wrap' }, instancesTable(job))),
      h('div', { class: 'card flush' }, h('div', { class: 'card-head' }, h('h2', { text: 'Servers' })), h('div', { class: 'table-wrap' }, serversTable(job)))),
    timelineCard(job),
    ...(job.cron ? [backfillsCard(job)] : []));
  refreshTimeline();
  if (job.cron && !(view.backfills && view.backfills.job === job.job_name)) refreshBackfills(job.job_name);
}

export let timelineTimer = null;
export function timelineKeyOf(name) {
  const jh = view.state.history.jobs[name];
  return `${name}\u0000${jh ? `${jh.total}/${jh.last_start}` : 'none'}`;
}

// Fetches the job's timeline when its runs moved (the view's counts say
// so), a moment after the change; the console answers many browsers from
// one query.
export function refreshTimeline() {
  if (!view.state.history.configured || timelineTimer) return;
  if (timelineKeyOf(view.route.job) === view.timelineKey) return;
  timelineTimer = setTimeout(async () => {
    timelineTimer = null;
    if (view.route.name !== 'job') return;
    const name = view.route.job;
    const key = timelineKeyOf(name);
    try {
      const data = await api('GET', `/api/jobs/${enc(name)}/timeline?limit=300`);
      view.timeline = data;
      view.timelineKey = key;
      if (view.route.name === 'job' && view.route.job === name) {
        const old = document.getElementById('timeline-card');
        const job = view.state.registry.jobs.find((j) => j.job_name === name);
        if (old && job) old.replaceWith(timelineCard(job));
      }
    } catch (e) {
      toast(`History: ${e.message}`, true);
    }
  }, 150);
}

// "Paused by ops: reason (until …)", as the registry's note says.
function pauseText(pause) {
  const until = pause.until ? `, resumes by itself ${formatTime(pause.until)}` : ', until resumed';
  return `Paused by ${pause.by} ${formatTime(pause.at)}${pause.reason ? `: ${pause.reason}` : ''}${until}`;
}
