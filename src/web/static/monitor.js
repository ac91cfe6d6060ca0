// The monitor page: one live view of a node, fed by /api/events (a snapshot
// of the node's files every couple of seconds, and at once after an
// action); actions are POSTs of the JSON interface (README "Web monitor").
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Charts } from './charts.js';
import { Jobs, Machines, NewJob, Sessions, Summary, Workers } from './views.js';

const html = htm.bind(h);
/** As many samples as the server keeps (src/web/history.ts). */
const KEEP_SAMPLES = 180;

/** The live state: the latest snapshot, the samples for the plots, and whether the stream is up. */
function useLive() {
  const [live, setLive] = useState({ snap: null, samples: [], up: false, problem: '', key: false });
  useEffect(() => {
    const events = new EventSource('/api/events');
    events.addEventListener('history', (e) => {
      const { samples, key } = JSON.parse(e.data);
      setLive((s) => ({ ...s, samples, key }));
    });
    events.addEventListener('snapshot', (e) => {
      const snap = JSON.parse(e.data);
      setLive((s) => ({
        ...s,
        snap,
        up: true,
        problem: '',
        samples: snap.sample ? [...s.samples, snap.sample].slice(-KEEP_SAMPLES) : s.samples,
      }));
    });
    events.addEventListener('problem', (e) => setLive((s) => ({ ...s, problem: JSON.parse(e.data).message })));
    events.onopen = () => setLive((s) => ({ ...s, up: true }));
    events.onerror = () => {
      setLive((s) => ({ ...s, up: false }));
      // The node restarted with a key: the cookie is stale, so back to the login.
      fetch('/api/history').then(
        (r) => r.status === 401 && location.reload(),
        () => {},
      );
    };
    return () => events.close();
  }, []);
  return live;
}

/** POST a JSON action; resolves to the reply, or throws the server's message. */
async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status === 401) location.reload();
  if (!res.ok) throw new Error(`${res.status}: ${text.trim()}`);
  return JSON.parse(text);
}

function App() {
  const live = useLive();
  const [error, setError] = useState('');
  const act = (url, body) =>
    post(url, body).then(
      (r) => {
        setError('');
        return r;
      },
      (e) => {
        setError(e.message);
        throw e;
      },
    );
  const snap = live.snap;
  if (!snap) return html`<p class="note">waiting for the node…</p>`;
  return html`
    <header class="bar">
      <span class="brand">taskfs</span>
      <span class="node">${snap.machine.name}</span>
      <span class="arch">${snap.machine.arch}</span>
      <${Summary} snap=${snap} />
      <span class=${`live ${live.up ? 'up' : 'down'}`} title=${live.up ? 'live' : 'reconnecting'}>${live.up ? 'live' : 'offline'}</span>
      ${live.key && html`<form method="post" action="/logout"><button class="quiet" type="submit">log out</button></form>`}
    </header>
    ${(error || live.problem) && html`<div class="error" role="alert">${error || live.problem}</div>`}
    <main>
      <${Charts} samples=${live.samples} />
      <div class="columns">
        <div class="left">
          <${Machines} machine=${snap.machine} />
          <${Workers} workers=${snap.workers} act=${act} />
        </div>
        <div class="right">
          <${Jobs} jobs=${snap.jobs} act=${act} time=${snap.time} />
          ${snap.jobs && html`<${NewJob} act=${act} />`}
          <${Sessions} sessions=${snap.sessions} more=${snap.moreSessions} />
        </div>
      </div>
    </main>
  `;
}

render(html`<${App} />`, document.getElementById('app'));
