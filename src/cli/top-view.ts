/**
 * One frame of `taskfs top` as lines of text: the nodes with capacity and
 * load, the sessions with the states of their leaves, the jobs with their
 * progress. Colour only when drawing on a terminal.
 */
import type { JobStatus } from '../taskfs/formats.js';
import { type NodeRow, type SessionRow, stateCounts, taskTotal } from './snapshot.js';
import { bar, paint, table } from './table.js';

export interface View {
  mount: string;
  sessions: SessionRow[];
  /** Workers and jobs: undefined on a node without a scheduler (no `jobs/`). */
  nodes?: NodeRow[];
  jobs?: JobStatus[];
  /** A failed read, shown instead of stopping. */
  error?: string;
}

export function frame(view: View, tty: boolean, now = new Date()): string[] {
  const out = [`taskfs top  ${view.mount}  ${now.toTimeString().slice(0, 8)}${tty ? '  (q quits)' : ''}`];
  if (view.error) out.push(tty ? `\x1b[31merror: ${view.error}\x1b[0m` : `error: ${view.error}`);
  if (view.nodes) out.push('', ...nodesPart(view.nodes, tty));
  out.push('', ...sessionsPart(view.sessions, tty));
  if (view.jobs) out.push('', ...jobsPart(view.jobs, tty));
  return out;
}

/** A bold title, then the table indented under it (none when there are no rows). */
function part(title: string, header: string[], rows: (string | number)[][], tty: boolean): string[] {
  const heading = tty ? `\x1b[1m${title}\x1b[0m` : title;
  return rows.length === 0 ? [heading] : [heading, ...table(header, rows).map((l) => `  ${l}`)];
}

function nodesPart(nodes: NodeRow[], tty: boolean): string[] {
  const up = nodes.filter((n) => n.state === 'Up');
  const slots = up.reduce((s, n) => s + n.slots, 0);
  const busy = up.reduce((s, n) => s + n.busy, 0);
  return part(
    `NODES  ${up.length} up, ${slots} slots, ${busy} busy`,
    ['NAME', 'STATE', 'SLOTS', 'BUSY', 'LOAD', 'ATTRS'],
    nodes.map((n) => [n.name, paint(n.state, tty), n.slots, n.busy, bar(n.busy, n.slots, 10), n.attrs]),
    tty,
  );
}

function sessionsPart(all: SessionRow[], tty: boolean): string[] {
  // A job's tasks on the node's own slots are sessions too: counted here, shown under JOBS.
  const sessions = all.filter((s) => !s.task);
  const tasks = all.length - sessions.length;
  const running = sessions.reduce((n, s) => n + s.leaves.filter((l) => l.state === 'Execute').length, 0);
  return part(
    `SESSIONS  ${sessions.length}, ${running} leaves running${tasks ? `; ${tasks} job tasks` : ''}`,
    ['ID', 'LEAVES', 'STATES', 'COMMAND'],
    sessions.map((s) => [
      s.id,
      s.leaves.length,
      stateCounts(s.leaves).replace(/[A-Z][a-z]+/g, (state) => paint(state, tty)),
      s.leaves.find((l) => l.arg0 !== '')?.arg0 ?? '',
    ]),
    tty,
  );
}

function jobsPart(jobs: JobStatus[], tty: boolean): string[] {
  return part(
    `JOBS  ${jobs.length}`,
    ['JOB', 'STATE', 'PRI', 'PROGRESS', 'ENDED', 'FAILED', 'RUNNING', 'QUEUED', 'NAME'],
    jobs.map((j) => [
      j.id,
      paint(j.state, tty),
      j.priority,
      bar(j.done + j.failed, taskTotal(j), 20),
      `${j.done + j.failed}/${taskTotal(j)}`,
      j.failed,
      j.running,
      j.queued,
      j.name,
    ]),
    tty,
  );
}
