/**
 * The namespace's text formats, read back into values: a session's
 * `status` and `wait` lines, a node's `ns`, and the jobs
 * files (`jobs/status`, `jobs/nodes`, `jobs/N/status`, `jobs/N/wait`). The
 * README's "Formats" and "Jobs" sections give each with an example line.
 * Every parser takes one line and throws on a line it does not understand.
 * Here, below the clients of a mount (the command line, the web monitor),
 * so that each format is read back by one piece of code.
 */
import { tokenize } from '../ns/quote.js';

/** Plan 9 words of a line, exactly `count` of them (the last may hold blanks when quoted). */
function words(line: string, count: number, what: string): string[] {
  const w = tokenize(line);
  if (w.length !== count) throw new Error(`${what}: expected ${count} fields, got ${w.length}: ${line}`);
  return w;
}

function int(word: string, line: string): number {
  if (!/^-?\d+$/.test(word)) throw new Error(`not a number: ${JSON.stringify(word)} in: ${line}`);
  return Number(word);
}

/** Non-empty lines of a file's text, each through `parse`. */
export function lines<T>(text: string, parse: (line: string) => T): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(parse);
}

// ---- sessions -----------------------------------------------------------------

export type LeafState = 'Unreserved' | 'Closed' | 'Execute' | 'Done' | 'Fail' | 'Lost';

/** `cmd/N OPENS STATE DIR ARG0`, e.g. `cmd/1 1 Done /work hostname`. */
export interface LeafStatus {
  session: number;
  opens: number;
  state: LeafState;
  dir: string;
  arg0: string;
}

export function parseLeafStatus(line: string): LeafStatus {
  const [cmd, opens, state, dir, arg0] = words(line, 5, 'status');
  const m = /^cmd\/(\d+)$/.exec(cmd!);
  if (!m) throw new Error(`status: not cmd/N: ${line}`);
  return { session: Number(m[1]), opens: int(opens!, line), state: state as LeafState, dir: dir!, arg0: arg0! };
}

/** `PID USER_MS SYS_MS REAL_MS STATUS`, e.g. `4371 1 0 19 ''`. */
export interface LeafWait {
  pid: number;
  userMs: number;
  sysMs: number;
  realMs: number;
  status: string;
}

export function parseLeafWait(line: string): LeafWait {
  const [pid, user, sys, real, status] = words(line, 5, 'wait');
  return {
    pid: int(pid!, line),
    userMs: int(user!, line),
    sysMs: int(sys!, line),
    realMs: int(real!, line),
    status: status!,
  };
}

/**
 * A wait STATUS as a shell would give it: '' 0, 'exit: N' N, 'signal: N'
 * and `killed` (SIGTERM) 128+N, 'fail: ...' 127 or 126 (could not start:
 * not found, or not allowed), 'lost: ...' 255 (the node went away, as ssh
 * says of a lost connection); anything else 1.
 */
export function exitStatus(status: string): number {
  if (status === '') return 0;
  if (status === 'killed') return 128 + 15;
  const m = /^(exit|signal): (\d+)$/.exec(status);
  if (m) return m[1] === 'exit' ? Number(m[2]) : 128 + Number(m[2]);
  if (status.startsWith('fail:')) return /permission|EACCES/i.test(status) ? 126 : 127;
  if (status.startsWith('lost:')) return 255;
  return 1;
}

/** A node's `ns`: `mount ADDR NAME`. */
export function parseMountLine(line: string): { addr: string; name: string } {
  const [verb, addr, name] = words(line, 3, 'ns');
  if (verb !== 'mount') throw new Error(`ns: not a mount line: ${line}`);
  return { addr: addr!, name: name! };
}

// ---- jobs -----------------------------------------------------------------------

export type JobState = 'Open' | 'Stopped' | 'Closed' | 'Complete' | 'Cancelled';

/** `jobs/status`: `N STATE PRIORITY QUEUED RUNNING DONE FAILED 'NAME'`. */
export interface JobStatus {
  id: number;
  state: JobState;
  priority: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  name: string;
}

export function parseJobStatus(line: string): JobStatus {
  const [id, state, priority, queued, running, done, failed, name] = words(line, 8, 'jobs/status');
  return {
    id: int(id!, line),
    state: state as JobState,
    priority: int(priority!, line),
    queued: int(queued!, line),
    running: int(running!, line),
    done: int(done!, line),
    failed: int(failed!, line),
    name: name!,
  };
}

/** `jobs/nodes`: `NAME STATE SLOTS BUSY 'ATTRS'`, e.g. `gpu1 Up 8 3 'gpu=yes os=Linux'`. */
export interface Worker {
  name: string;
  state: 'Up' | 'Lost';
  slots: number;
  busy: number;
  attrs: Record<string, string>;
}

export function parseWorker(line: string): Worker {
  const [name, state, slots, busy, attrs] = words(line, 5, 'jobs/nodes');
  // KEY=VALUE words; a word without one is no attribute.
  const pairs = attrs!.split(/\s+/).flatMap((kv) => {
    const i = kv.indexOf('=');
    return i > 0 ? [[kv.slice(0, i), kv.slice(i + 1)] as const] : [];
  });
  return {
    name: name!,
    state: state as Worker['state'],
    slots: int(slots!, line),
    busy: int(busy!, line),
    attrs: Object.fromEntries(pairs),
  };
}

export type TaskState = 'Queued' | 'Running' | 'Done' | 'Failed' | 'Cancelled';

/** `jobs/N/status`: `ID STATE NODE TRIES 'STATUS'`, e.g. `17 Done node1 1 ''`. */
export interface TaskStatus {
  id: number;
  state: TaskState;
  node: string;
  tries: number;
  status: string;
}

export function parseTaskStatus(line: string): TaskStatus {
  const [id, state, node, tries, status] = words(line, 5, 'job status');
  return { id: int(id!, line), state: state as TaskState, node: node!, tries: int(tries!, line), status: status! };
}

/** `jobs/N/wait`: `ID NODE START_MS REAL_MS 'STATUS'`, e.g. `17 node1 1764586800123 212 ''`. */
export interface TaskWait {
  id: number;
  node: string;
  startMs: number;
  realMs: number;
  status: string;
}

export function parseTaskWait(line: string): TaskWait {
  const [id, node, start, real, status] = words(line, 5, 'job wait');
  return { id: int(id!, line), node: node!, startMs: int(start!, line), realMs: int(real!, line), status: status! };
}

// ---- ranks --------------------------------------------------------------------

/** Ranks as dshbak -c shows hosts: sorted, runs compressed, `0-3,5,7-8`. */
export function compressRanks(ranks: number[]): string {
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',');
}
