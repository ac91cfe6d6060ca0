/**
 * One look at a node, made of reads of its files: the tree of machines
 * (ctl, arch, status, nodes/), each session's leaves (N/status, which does
 * not count as an open), the jobs and workers (jobs/status, jobs/nodes).
 * The live page and every GET of the JSON interface are built from this.
 */
import { asFsError } from '../ns/errors.js';
import type { FileStat, Node } from '../ns/types.js';
import {
  type Capacity,
  type JobLine,
  type Leaf,
  type WorkerLine,
  parseCapacity,
  parseJobs,
  parseLeaves,
  parseSettings,
  parseWorkers,
} from './formats.js';
import { listNames, listStats, readText } from './tree-io.js';

/** Child nodes are followed this deep (a tree of trees, never a cycle one can afford). */
const MAX_DEPTH = 6;
/** Sessions shown, the newest numbers first beyond this. */
export const MAX_SESSIONS = 200;

export interface Machine {
  name: string;
  /** Where it is in the tree: `nodes/a/nodes/b`, '' for the node itself. */
  path: string;
  state: 'Up' | 'Unreachable';
  /** Why it is Unreachable. */
  error?: string;
  arch: string;
  slots: number;
  capacity: Capacity[];
  children: Machine[];
}

export interface SessionView {
  id: number;
  leaves: Leaf[];
}

export interface Snapshot {
  /** Unix epoch milliseconds. */
  time: number;
  machine: Machine;
  sessions: SessionView[];
  /** Sessions left out beyond MAX_SESSIONS. */
  moreSessions: number;
  /** null where the node has no `jobs/` (no scheduler). */
  jobs: JobLine[] | null;
  workers: WorkerLine[] | null;
}

export async function takeSnapshot(root: Node): Promise<Snapshot> {
  const [machine, sessions, jobs, workers] = await Promise.all([
    readMachine(root, [], 'node'),
    readSessions(root),
    readJobsFile(root, 'status', parseJobs),
    readJobsFile(root, 'nodes', parseWorkers),
  ]);
  return { time: Date.now(), machine, ...sessions, jobs, workers };
}

export async function readMachine(root: Node, at: string[], fallbackName: string): Promise<Machine> {
  const path = at.join('/');
  try {
    const [ctl, arch, status, children] = await Promise.all([
      readText(root, [...at, 'ctl']),
      readText(root, [...at, 'arch']),
      readText(root, [...at, 'status']),
      at.length / 2 < MAX_DEPTH ? listNames(root, [...at, 'nodes']) : Promise.resolve([]),
    ]);
    const settings = parseSettings(ctl);
    return {
      name: settings.name ?? fallbackName,
      path,
      state: 'Up',
      arch: arch.trim(),
      slots: Number(settings.slots ?? 0),
      capacity: parseCapacity(status),
      children: await Promise.all(children.map((c) => readMachine(root, [...at, 'nodes', c], c))),
    };
  } catch (err) {
    const error = asFsError(err).message;
    return { name: fallbackName, path, state: 'Unreachable', error, arch: '', slots: 0, capacity: [], children: [] };
  }
}

/**
 * The node's own sessions, not the local slots bound into them (those are
 * sessions too, and their leaf is already a leaf of the session that
 * reserved it). The files do not say which is which, so: a session whose
 * directory has the qid and the status of a numbered subdirectory of
 * another session is that subdirectory. (The qid alone is not enough: a
 * remote node numbers its qids as this one does.)
 */
async function readSessions(root: Node): Promise<{ sessions: SessionView[]; moreSessions: number }> {
  const numbered = (stats: FileStat[]) => stats.filter((st) => /^(0|[1-9]\d*)$/.test(st.name));
  const all = numbered(await listStats(root, []));
  const byQid = new Map(all.map((st) => [st.qid.path, st.name]));
  const status = new Map<string, Promise<string | null>>();
  const statusOf = (names: string[]) => {
    const key = names.join('/');
    if (!status.has(key))
      status.set(
        key,
        readText(root, [...names, 'status']).catch(() => null),
      );
    return status.get(key)!;
  };
  const bound = new Set<string>();
  await Promise.all(
    all.map(async (parent) => {
      const children = numbered(await listStats(root, [parent.name]).catch(() => []));
      for (const child of children) {
        const same = byQid.get(child.qid.path);
        if (same === undefined || same === parent.name) continue;
        const [a, b] = await Promise.all([statusOf([same]), statusOf([parent.name, child.name])]);
        if (a !== null && a === b) bound.add(same);
      }
    }),
  );
  const ids = all
    .filter((st) => !bound.has(st.name))
    .map((st) => Number(st.name))
    .sort((a, b) => a - b);
  const shown = ids.slice(-MAX_SESSIONS);
  const sessions = await Promise.all(
    // A session wiped between the listing and the read is simply gone.
    shown.map(async (id) => ({ id, leaves: await statusOf([String(id)]).then((t) => t && parseLeaves(t)) })),
  );
  return {
    sessions: sessions.filter((s): s is SessionView => s.leaves !== null),
    moreSessions: ids.length - shown.length,
  };
}

/** A file of jobs/ parsed, or null where the node has no scheduler. */
export async function readJobsFile<T>(root: Node, name: string, parse: (text: string) => T[]): Promise<T[] | null> {
  try {
    return parse(await readText(root, ['jobs', name]));
  } catch (err) {
    if (asFsError(err).code === 'ENOENT') return null;
    throw err;
  }
}
