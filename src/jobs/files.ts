/**
 * The jobs/ directory (README "Jobs: files"): clone, ctl, status, nodes,
 * task, err, and a directory per job with ctl, tasks, status, wait,
 * stdout, stderr, out/ID, errout/ID and err, built on ns/ like the session
 * files. Qids: jobs/ takes the range from 1<<61 (sessions count up from 1,
 * auth fids sit at 1<<62): job N's files are (N+1)<<36, a task's out and
 * errout files add (ID+1)<<4.
 */
import { readFileSync } from 'node:fs';
import { FsError } from '../ns/errors.js';
import { textHandle } from '../ns/handles.js';
import { SyntheticDir, SyntheticFile } from '../ns/synthetic.js';
import type { Node, OpenFile, OpenMode } from '../ns/types.js';
import { quote } from '../ns/quote.js';
import { DoorWorker } from './door-worker.js';
import type { Job } from './job.js';
import { needMet } from './queue.js';
import type { Scheduler } from './scheduler.js';
import { MAX_TASK_LINE_BYTES, parseTaskLines } from './task-lines.js';
import { jobCtl, schedulerCtl } from './verbs.js';
import { attrText } from './worker.js';

const BASE = 1n << 61n;

const enum Q {
  Dir = 1,
  Clone,
  Ctl,
  Status,
  Nodes,
  Task,
  Err,
}

const jobFileNames = ['ctl', 'tasks', 'status', 'wait', 'stdout', 'stderr', 'out', 'errout', 'err'] as const;

function jobQid(job: number, index: number, task?: number): bigint {
  return BASE + (BigInt(job + 1) << 36n) + (task === undefined ? 0n : BigInt(task + 1) << 4n) + BigInt(index);
}

export function jobsDir(s: Scheduler): Node {
  const file = (name: string, q: Q, perm: number, open: (mode: OpenMode) => Promise<OpenFile> | OpenFile) =>
    [name, new SyntheticFile({ name, qidPath: BASE + BigInt(q), perm, open })] as const;
  const top = [
    file('clone', Q.Clone, 0o666, () => openClone(s)),
    file('ctl', Q.Ctl, 0o660, () => textHandle({ text: settings(s), write: (d) => schedulerCtl(s, d.toString()) })),
    file('status', Q.Status, 0o444, () =>
      textHandle({ text: [...s.jobs.values()].map((j) => j.statusLine()).join('') }),
    ),
    file('nodes', Q.Nodes, 0o444, () => textHandle({ text: nodesText(s) })),
    // Only a read-write open is a worker (it must write results): a reader passing by (grep -r) takes no task.
    file('task', Q.Task, 0o666, (mode) => (mode.read && mode.write ? new DoorWorker(s).handle : textHandle({}))),
    file('err', Q.Err, 0o444, () => textHandle({ text: s.lastError })),
  ];
  const topByName = new Map<string, Node>(top);
  const dirs = new WeakMap<Job, Node>();
  const jobNode = (job: Job): Node => {
    let dir = dirs.get(job);
    if (!dir) dirs.set(job, (dir = jobDir(s, job)));
    return dir;
  };
  return new SyntheticDir({
    name: 'jobs',
    qidPath: BASE + BigInt(Q.Dir),
    entries: () => [...top, ...[...s.jobs.values()].map((j) => [String(j.id), jobNode(j)] as const)],
    lookup: (name) => {
      const found = topByName.get(name);
      if (found || !/^(0|[1-9]\d*)$/.test(name)) return found;
      const job = s.jobs.get(Number(name));
      return job && jobNode(job);
    },
  });
}

async function openClone(s: Scheduler): Promise<OpenFile> {
  const job = await s.createJob();
  const text = Buffer.from(String(job.id));
  return {
    read: async (offset, count) => text.subarray(Math.min(offset, text.length), offset + count),
    write: async (data) => {
      await jobCtl(s, job, data.toString());
      return data.length;
    },
    close: async () => undefined,
  };
}

function settings(s: Scheduler): string {
  return `workdir ${quote(s.dir)}\njobs ${s.jobs.size}\nworkers ${s.workers.size}\n`;
}

function nodesText(s: Scheduler): string {
  return [...s.workers.values()]
    .map((w) => `${w.name} ${w.lost ? 'Lost' : 'Up'} ${w.slots()} ${s.busyOf(w)} ${quote(attrText(w.attrs))}\n`)
    .join('');
}

function jobDir(s: Scheduler, job: Job): Node {
  const live = () => {
    if (job.wiped) throw new FsError('ENOENT', `job ${job.id} has been wiped`);
  };
  const opens: Record<(typeof jobFileNames)[number], () => Promise<OpenFile> | OpenFile> = {
    ctl: () => textHandle({ text: job.settings(), write: (d) => jobCtl(s, job, d.toString()) }),
    tasks: () => tasksHandle(s, job),
    status: () => textHandle({ text: taskStatus(s, job) }),
    wait: () => logHandle(job.wait),
    stdout: () => logHandle(job.stdout),
    stderr: () => logHandle(job.stderr),
    out: () => Promise.reject(new FsError('EISDIR', 'out is a directory')),
    errout: () => Promise.reject(new FsError('EISDIR', 'errout is a directory')),
    err: () => textHandle({ text: job.lastError }),
  };
  const perms: Record<string, number> = { ctl: 0o660, tasks: 0o660 };
  const entries = jobFileNames.map((name, i) => {
    if (name === 'out' || name === 'errout') return [name, outputDir(job, name, i + 1)] as const;
    const node = new SyntheticFile({
      name,
      qidPath: jobQid(job.id, i + 1),
      perm: perms[name] ?? 0o444,
      open: () => {
        live();
        return opens[name]();
      },
    });
    return [name, node] as const;
  });
  const byName = new Map<string, Node>(entries);
  return new SyntheticDir({
    name: String(job.id),
    qidPath: jobQid(job.id, 0),
    entries: () => entries,
    lookup: (name) => byName.get(name),
    remove: () => s.wipe(job),
  });
}

function outputDir(job: Job, name: 'out' | 'errout', index: number): Node {
  const path = (id: number) => (name === 'out' ? job.outPath(id) : job.errPath(id));
  const files = new Map<number, Node>();
  const fileOf = (id: number): Node => {
    let f = files.get(id);
    if (!f) {
      f = new SyntheticFile({
        name: String(id),
        qidPath: jobQid(job.id, index, id),
        perm: 0o444,
        open: () => textHandle({ text: readOutput(path(id)) }),
      });
      files.set(id, f);
    }
    return f;
  };
  return new SyntheticDir({
    name,
    qidPath: jobQid(job.id, index),
    entries: () => job.tasks.map((t) => [String(t.id), fileOf(t.id)] as const),
    lookup: (entry) => {
      if (!/^(0|[1-9]\d*)$/.test(entry)) return undefined;
      const id = Number(entry);
      return job.tasks[id] ? fileOf(id) : undefined;
    },
  });
}

function readOutput(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0); // not ended yet, or it wrote nothing
  }
}

function taskStatus(s: Scheduler, job: Job): string {
  const why = (): string => {
    if (job.stopped) return 'waiting: job stopped';
    const up = [...s.workers.values()].filter((w) => !w.lost);
    if (up.length === 0) return 'waiting: no worker';
    if (!up.some((w) => needMet(job, w.attrs)))
      return `waiting: no worker with ${[...job.need].map(([k, v]) => `${k}=${v}`).join(' ')}`;
    return 'waiting: queued';
  };
  let waiting: string | undefined;
  return job.tasks
    .map((t) => {
      const status = t.state === 'Queued' ? (waiting ??= why()) : t.status;
      return `${t.id} ${t.state} ${t.node} ${t.tries} ${quote(status)}\n`;
    })
    .join('');
}

interface ReadLog {
  read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer>;
}

function logHandle(log: ReadLog): OpenFile {
  return {
    read: (offset, count, signal) => log.read(offset, count, signal),
    write: async () => {
      throw new FsError('EACCES', 'permission denied: read only');
    },
    close: async () => undefined,
  };
}

/** Writes: one task per line; a line cut by the write's end waits for the next write (or the close). */
function tasksHandle(s: Scheduler, job: Job): OpenFile {
  const text = job.tasks.map((t) => `${t.id} ${job.commandText(t)}\n`).join('');
  let partial = '';
  const accept = async (lines: string): Promise<void> => {
    try {
      await s.addTasks(job, parseTaskLines(lines));
    } catch (err) {
      job.lastError = (err as Error).message;
      throw err;
    }
  };
  return textHandle({
    text,
    write: async (data) => {
      const all = partial + data.toString();
      const cut = all.lastIndexOf('\n') + 1;
      partial = '';
      await accept(all.slice(0, cut));
      if (all.length - cut > MAX_TASK_LINE_BYTES) {
        job.lastError = `tasks: a line longer than ${MAX_TASK_LINE_BYTES} bytes: nothing of it taken`;
        throw new FsError('E2BIG', job.lastError);
      }
      partial = all.slice(cut);
    },
    onClose: async () => {
      if (partial.trim() !== '') await accept(partial).catch(() => undefined);
    },
  });
}
