/**
 * What a mount holds right now, read from its files for `jobs`, `nodes`
 * and `top`: the workers (`jobs/nodes`), the sessions with the states of
 * their leaves, and the jobs (`jobs/status`).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type JobStatus,
  type LeafStatus,
  lines,
  parseJobStatus,
  parseLeafStatus,
  parseWorker,
} from '../taskfs/formats.js';
import { childNames } from './leaf-nodes.js';
import { readIfThere } from './mount-files.js';

export interface NodeRow {
  name: string;
  state: string;
  slots: number;
  busy: number;
  attrs: string;
}

/** The workers, as `jobs/nodes` lists them; undefined on a node without a scheduler. */
export async function readNodes(mount: string): Promise<NodeRow[] | undefined> {
  const workers = await readIfThere(join(mount, 'jobs', 'nodes'));
  if (workers === undefined) return undefined;
  return lines(workers, parseWorker).map((w) => ({
    ...w,
    attrs: Object.entries(w.attrs)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
  }));
}

export interface SessionRow {
  id: number;
  leaves: LeafStatus[];
  /** A job's task on the node's own slots is a session too; its `env` says which. */
  task?: { job: string; task: string };
}

/**
 * The sessions of the mount's root, without the leaf sessions that local
 * slots are (README "Lifetime": `1 2 3 4` for session 0's four leaves):
 * on a node without children, a session another one lists as its leaf.
 */
export async function readSessions(mount: string): Promise<SessionRow[]> {
  const ids = (await readdir(mount)).filter((n) => /^\d+$/.test(n)).map(Number);
  const rows = await Promise.all(
    ids.map(async (id) => {
      const status = await readIfThere(join(mount, String(id), 'status')).catch(() => undefined); // gone meanwhile
      return status === undefined ? [] : [{ id, leaves: lines(status, parseLeafStatus) }];
    }),
  );
  let sessions: SessionRow[] = rows.flat().sort((a, b) => a.id - b.id);
  if ((await childNames(mount)).length === 0) {
    const leafIds = new Set(sessions.flatMap((s) => s.leaves.map((l) => l.session).filter((leaf) => leaf !== s.id)));
    sessions = sessions.filter((s) => !leafIds.has(s.id));
  }
  return Promise.all(sessions.map((s) => withTask(mount, s)));
}

async function withTask(mount: string, s: SessionRow): Promise<SessionRow> {
  const env = (await readIfThere(join(mount, String(s.id), 'env')).catch(() => undefined)) ?? '';
  const job = /^TASKFS_JOB=(.*)$/m.exec(env)?.[1];
  const task = /^TASKFS_TASK=(.*)$/m.exec(env)?.[1];
  return job !== undefined && task !== undefined ? { ...s, task: { job, task } } : s;
}

/** The jobs, or undefined on a node without a scheduler (no `jobs/`). */
export async function readJobs(mount: string): Promise<JobStatus[] | undefined> {
  const text = await readIfThere(join(mount, 'jobs', 'status'));
  return text === undefined ? undefined : lines(text, parseJobStatus);
}

export function taskTotal(j: JobStatus): number {
  return j.queued + j.running + j.done + j.failed;
}

/** `Execute 3, Done 1`: how many leaves are in each state, in the order they first appear. */
export function stateCounts(leaves: LeafStatus[]): string {
  const counts = new Map<string, number>();
  for (const l of leaves) counts.set(l.state, (counts.get(l.state) ?? 0) + 1);
  return [...counts].map(([state, n]) => `${state} ${n}`).join(', ');
}
