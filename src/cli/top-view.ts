/**
 * One frame of `taskfs top` as lines of text: the nodes with capacity and
 * load, the sessions with the states of their leaves, the jobs with their
 * progress. Colour only when drawing on a terminal.
 */
import type { JobStatus } from './formats.js';
import { type NodeRow, type SessionRow, stateCounts, taskTotal } from './snapshot.js';
import { bar, paint, table } from './table.js';

export interface View {
  mount: string;
  nodes: NodeRow[];
  sessions: SessionRow[];
  /** Undefined on a node without a scheduler. */
  jobs?: JobStatus[];
  /** A failed read, shown instead of stopping. */
  error?: string;
}

export function frame(view: View, tty: boolean, now = new Date()): string[] {
  const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
  const indent = (ls: string[]) => ls.map((l) => `  ${l}`);
  const out = [`taskfs top  ${view.mount}  ${now.toTimeString().slice(0, 8)}${tty ? '  (q quits)' : ''}`];
  if (view.error) out.push(tty ? `\x1b[31merror: ${view.error}\x1b[0m` : `error: ${view.error}`);

  const up = view.nodes.filter((n) => n.state === 'Up');
  const slots = up.reduce((s, n) => s + n.slots, 0);
  const busy = up.reduce((s, n) => s + (n.busy ?? 0), 0);
  const known = view.nodes.some((n) => n.busy !== undefined);
  out.push('', bold(`NODES  ${up.length} up, ${slots} slots${known ? `, ${busy} busy` : ''}`));
  out.push(
    ...indent(
      table(
        ['NAME', 'STATE', 'SLOTS', 'BUSY', 'LOAD', 'ATTRS'],
        view.nodes.map((n) => [
          n.name,
          paint(n.state, tty),
          n.slots,
          n.busy ?? '-',
          n.busy === undefined ? '-' : bar(n.busy, n.slots, 10),
          n.attrs,
        ]),
      ),
    ),
  );

  // A job's tasks on the node's own slots are sessions too: counted here, shown under JOBS.
  const sessions = view.sessions.filter((s) => !s.task);
  const tasks = view.sessions.length - sessions.length;
  const running = sessions.reduce((n, s) => n + s.leaves.filter((l) => l.state === 'Execute').length, 0);
  out.push('', bold(`SESSIONS  ${sessions.length}, ${running} leaves running${tasks ? `; ${tasks} job tasks` : ''}`));
  if (sessions.length > 0) {
    out.push(
      ...indent(
        table(
          ['ID', 'LEAVES', 'STATES', 'COMMAND'],
          sessions.map((s) => [
            s.id,
            s.leaves.length,
            colourStates(stateCounts(s.leaves), tty),
            s.leaves.find((l) => l.arg0 !== '')?.arg0 ?? '',
          ]),
        ),
      ),
    );
  }

  if (view.jobs) {
    out.push('', bold(`JOBS  ${view.jobs.length}`));
    if (view.jobs.length > 0) {
      out.push(
        ...indent(
          table(
            ['JOB', 'STATE', 'PRI', 'PROGRESS', 'ENDED', 'FAILED', 'RUNNING', 'QUEUED', 'NAME'],
            view.jobs.map((j) => [
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
          ),
        ),
      );
    }
  }
  return out;
}

function colourStates(counts: string, tty: boolean): string {
  return counts.replace(/[A-Z][a-z]+/g, (state) => paint(state, tty));
}
