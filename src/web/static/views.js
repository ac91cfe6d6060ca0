// The page's panels, each drawn from one part of the snapshot (the files'
// words kept as they are: Up, Execute, Queued, Stopped ...).
import htm from 'htm';
import { Fragment, h } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const html = htm.bind(h);
const priorities = { high: 10, normal: 0, low: -10 };
/** Squares drawn for one job's tasks; a job may have millions. */
const MAX_SHOWN = 2000;

function Panel({ title, count, children }) {
  return html`<section class="panel"><h2>${title}${count !== undefined && html` <span class="count">${count}</span>`}</h2>${children}</section>`;
}

function Badge({ state }) {
  return html`<span class=${`badge s-${state}`}>${state}</span>`;
}

export function Summary({ snap }) {
  const cap = snap.machine.capacity.reduce((n, c) => n + c.count, 0);
  const jobs = snap.jobs ?? [];
  const sum = (k) => jobs.reduce((n, j) => n + j[k], 0);
  const leaves = snap.sessions.reduce((n, s) => n + s.leaves.filter((l) => l.state === 'Execute').length, 0);
  const stats = [
    ['capacity', cap],
    ['leaves running', leaves],
    ['tasks running', sum('running')],
    ['queued', sum('queued')],
    ['done', sum('done')],
    ['failed', sum('failed')],
  ];
  return html`<span class="stats">${stats.map(([k, v]) => html`<span class="stat"><b>${v}</b> ${k}</span>`)}</span>`;
}

function MachineRow({ m, depth }) {
  const cap = m.capacity.map((c) => `${c.count} ${c.os} ${c.machine}`).join(', ');
  return html`
    <li data-machine=${m.path || '.'}>
      <div class="machine" style=${`padding-left:${depth * 14}px`}>
        <span class="name">${m.name}</span>
        <${Badge} state=${m.state} />
        <span class="dim">${m.state === 'Up' ? cap : m.error}</span>
      </div>
      ${m.children.length > 0 && html`<ul>${m.children.map((c) => html`<${MachineRow} key=${c.path} m=${c} depth=${depth + 1} />`)}</ul>`}
    </li>`;
}

export function Machines({ machine }) {
  return html`<${Panel} title="Machines"><ul class="tree"><${MachineRow} m=${machine} depth=${0} /></ul></${Panel}>`;
}

function Meter({ parts, total, label }) {
  return html`<div class="meter" title=${label}>
    ${parts.map(([cls, n]) => n > 0 && html`<span class=${cls} style=${`width:${(100 * n) / Math.max(1, total)}%`}></span>`)}
    <em>${label}</em>
  </div>`;
}

export function Workers({ workers, act }) {
  if (!workers) return null;
  const remove = (name) => act(`/api/machines/${encodeURIComponent(name)}`, { verb: 'delete' }).catch(() => {});
  return html`<${Panel} title="Workers" count=${workers.length}>
    <table class="grid">
      <thead><tr><th>worker</th><th>state</th><th class="wide">busy</th><th>attributes</th><th></th></tr></thead>
      <tbody>${workers.map(
        (w) => html`<tr key=${w.name} data-worker=${w.name}>
          <td class="name">${w.name}</td>
          <td><${Badge} state=${w.state} /></td>
          <td class="wide"><${Meter} parts=${[['running', w.busy]]} total=${w.slots} label=${`${w.busy} / ${w.slots}`} /></td>
          <td class="dim attrs">${Object.entries(w.attrs)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}</td>
          <td><button class="quiet" title="delnode: the worker leaves, its running tasks go back to the queue" onClick=${() => remove(w.name)}>delete</button></td>
        </tr>`,
      )}</tbody>
    </table>
  </${Panel}>`;
}

/** A job's tasks, one square each (state, node, tries and status on hover), read again with every snapshot. */
function JobTasks({ id, time }) {
  const [job, setJob] = useState(null);
  useEffect(() => {
    fetch(`/api/jobs/${id}`)
      .then((r) => (r.ok ? r.json() : null))
      .then(setJob, () => {});
  }, [id, time]);
  if (!job) return html`<p class="note">reading jobs/${id}/status…</p>`;
  const failed = job.tasks.filter((t) => t.state === 'Failed').slice(0, MAX_SHOWN);
  return html`<div class="tasks">
    ${job.tasks.length > MAX_SHOWN && html`<p class="dim">the first ${MAX_SHOWN} of ${job.tasks.length} tasks</p>`}
    <span class="leaves">${job.tasks
      .slice(0, MAX_SHOWN)
      .map(
        (t) =>
          html`<span class=${`leaf s-${t.state}`} data-task=${t.id} title=${`task ${t.id}: ${t.state} on ${t.node}, try ${t.tries} ${t.status}`}>${t.id}</span>`,
      )}</span>
    ${failed.length > 0 && html`<p class="dim">${failed.map((t) => html`<span class="mono">${t.id}: ${t.status} </span>`)}</p>`}
  </div>`;
}

function JobRow({ j, act, open, toggle }) {
  const total = j.queued + j.running + j.done + j.failed;
  const control = (verb, args) => act(`/api/jobs/${j.id}`, args ? { verb, args } : { verb }).catch(() => {});
  const named = Object.entries(priorities).find(([, v]) => v === j.priority)?.[0];
  const ended = ['Complete', 'Cancelled'].includes(j.state);
  return html`<tr data-job=${j.id}>
    <td class="dim">${j.id}</td>
    <td class="name"><button class="link" title="show its tasks" aria-expanded=${open} onClick=${toggle}>${j.name}</button></td>
    <td><${Badge} state=${j.state} /></td>
    <td class="wide">
      <${Meter} parts=${[['done', j.done], ['failed', j.failed], ['running', j.running]]} total=${total}
        label=${`${j.done + j.failed} / ${total}${j.failed ? ` (${j.failed} failed)` : ''}`} />
    </td>
    <td class="num">${j.running}</td>
    <td class="num">${j.queued}</td>
    <td>
      <select aria-label="priority" disabled=${ended} value=${named ?? String(j.priority)}
        onChange=${(e) => control('priority', [e.target.value])}>
        ${Object.keys(priorities).map((p) => html`<option value=${p}>${p}</option>`)}
        ${named === undefined && html`<option value=${String(j.priority)}>${j.priority}</option>`}
      </select>
    </td>
    <td class="actions">
      ${j.state === 'Stopped' ? html`<button onClick=${() => control('start')}>start</button>` : html`<button disabled=${ended} onClick=${() => control('stop')}>stop</button>`}
      <button class="danger" disabled=${ended} onClick=${() => control('cancel')}>cancel</button>
    </td>
  </tr>`;
}

export function Jobs({ jobs, act, time }) {
  const [open, setOpen] = useState(new Set());
  const toggle = (id) => () => {
    const next = new Set(open);
    next.has(id) ? next.delete(id) : next.add(id);
    setOpen(next);
  };
  if (!jobs) return html`<${Panel} title="Jobs"><p class="note">This node has no scheduler (no jobs/).</p></${Panel}>`;
  return html`<${Panel} title="Jobs" count=${jobs.length}>
    <table class="grid">
      <thead><tr><th>#</th><th>name</th><th>state</th><th class="wide">progress</th><th class="num">run</th><th class="num">queue</th><th>priority</th><th></th></tr></thead>
      <tbody>${jobs.map(
        (j) => html`<${Fragment} key=${j.id}>
          <${JobRow} j=${j} act=${act} open=${open.has(j.id)} toggle=${toggle(j.id)} />
          ${open.has(j.id) && html`<tr class="detail" data-tasks-of=${j.id}><td colspan="8"><${JobTasks} id=${j.id} time=${time} /></td></tr>`}
        </${Fragment}>`,
      )}</tbody>
    </table>
    ${jobs.length === 0 && html`<p class="note">No jobs yet.</p>`}
  </${Panel}>`;
}

export function NewJob({ act }) {
  const [form, setForm] = useState({ name: '', priority: 'normal', tasks: '', stopped: false });
  const [sent, setSent] = useState('');
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = (e) => {
    e.preventDefault();
    const body = { tasks: form.tasks, priority: form.priority, stopped: form.stopped };
    if (form.name.trim()) body.name = form.name.trim();
    act('/api/jobs', body).then(
      (r) => {
        setSent(`job ${r.id} submitted`);
        setForm({ ...form, name: '', tasks: '' });
      },
      () => setSent(''),
    );
  };
  return html`<${Panel} title="New job">
    <form class="newjob" onSubmit=${submit}>
      <textarea name="tasks" rows="3" placeholder="one command per line, Plan 9 quoting: sh -c 'echo hi'" value=${form.tasks} onInput=${set('tasks')} required></textarea>
      <div class="row">
        <input name="name" placeholder="name" value=${form.name} onInput=${set('name')} />
        <select name="priority" value=${form.priority} onChange=${set('priority')}>
          ${Object.keys(priorities).map((p) => html`<option value=${p}>${p}</option>`)}
        </select>
        <label><input type="checkbox" checked=${form.stopped} onChange=${set('stopped')} /> stopped</label>
        <button type="submit">submit</button>
        <span class="dim">${sent}</span>
      </div>
    </form>
  </${Panel}>`;
}

export function Sessions({ sessions, more }) {
  const live = sessions.filter((s) => s.leaves.length > 0);
  return html`<${Panel} title="Sessions" count=${live.length}>
    <table class="grid">
      <thead><tr><th>#</th><th>command</th><th class="wide">leaves</th><th>states</th></tr></thead>
      <tbody>${live.map((s) => {
        const counts = {};
        for (const l of s.leaves) counts[l.state] = (counts[l.state] ?? 0) + 1;
        return html`<tr key=${s.id} data-session=${s.id}>
          <td class="dim">${s.id}</td>
          <td class="name mono">${s.leaves[0]?.cmd || '—'}</td>
          <td class="wide"><span class="leaves">${s.leaves.map(
            (l, rank) =>
              html`<span class=${`leaf s-${l.state}`} data-state=${l.state} title=${`rank ${rank}: ${l.name} ${l.state} ${l.dir}`}>${rank}</span>`,
          )}</span></td>
          <td class="dim">${Object.entries(counts)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')}</td>
        </tr>`;
      })}</tbody>
    </table>
    ${live.length === 0 && html`<p class="note">No sessions.</p>`}
    ${more > 0 && html`<p class="note">${more} older sessions not shown.</p>`}
  </${Panel}>`;
}
