/**
 * The job scheduler of a node (README "Jobs"): its jobs, its workers, and
 * the loop that hands queued tasks to free workers in priority order.
 * Every change goes to the journal first (journal.ts), then to memory,
 * then to readers, so a reader never sees what a crash could take back.
 */
import { closeSync, fstatSync, openSync, readSync, readdirSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import createDebug from 'debug';
import { FsError, asFsError } from '../ns/errors.js';
import type { LeafSource } from '../nodes/leaf-source.js';
import type { TaskNode } from '../taskfs/node.js';
import { quote, tokenize } from '../ns/quote.js';
import { ChildWorker } from './child-worker.js';
import { Generator } from './generator.js';
import { Job, type Task, type TaskState } from './job.js';
import { Journal, type JournalRecord } from './journal.js';
import { LocalWorker } from './local-worker.js';
import { applySetting } from './settings.js';
import { pickJob } from './queue.js';
import type { OutputEnds, TaskRun, Worker } from './worker.js';

const log = createDebug('taskfs:jobs');

/** A task whose worker goes away this many times fails ('lost: REASON') instead of queueing again. */
const MAX_LOST_TRIES = 10;

interface Running {
  worker: Worker;
  abort: AbortController;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
}

export class Scheduler {
  readonly jobs = new Map<number, Job>();
  /** Workers by name, in the order they came; a lost one stays until `delnode`. */
  readonly workers = new Map<string, Worker>();
  /** Text of the last failed write on jobs/ctl or jobs/task. */
  lastError = '';
  private nextJob = 0;
  private seq = 0;
  private readonly running = new Map<Task, Running>();
  private readonly busy = new Map<Worker, number>();
  private readonly generators = new Map<Job, Generator>();
  private dispatching = false;
  private again = false;
  private stopping = false;
  private compacting?: Promise<void>;
  private readonly onChild = (child: LeafSource) => this.addWorker(new ChildWorker(child));

  private constructor(
    readonly node: TaskNode,
    readonly dir: string,
    private journal: Journal,
  ) {}

  /** Replays the journal in `dir` (made if missing), compacts it, and starts dispatching. */
  static async open(node: TaskNode, dir: string): Promise<Scheduler> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const replay = new Replay(dir);
    const journal = await Journal.open(dir, (words) => replay.apply(words));
    const s = new Scheduler(node, dir, journal);
    replay.finish(s);
    await journal.compact(s.snapshot());
    if (node.opts.slots > 0) s.addWorker(new LocalWorker(node));
    for (const child of node.childNodes.values()) s.onChild(child);
    node.watchers.childAdded.add(s.onChild);
    s.dispatch();
    return s;
  }

  // ---- jobs ------------------------------------------------------------------

  async createJob(): Promise<Job> {
    this.checkRunning();
    const id = this.nextJob++;
    await this.journal.append(['job', id]);
    const job = this.makeJob(id);
    log('job %d made', id);
    return job;
  }

  makeJob(id: number): Job {
    const job = new Job(id, join(this.dir, String(id)));
    this.jobs.set(id, job);
    this.nextJob = Math.max(this.nextJob, id + 1);
    return job;
  }

  /** After a replay: the next job number and queue position. */
  resume(nextJob: number, seq: number): void {
    this.nextJob = nextJob;
    this.seq = seq;
  }

  job(id: number): Job {
    const job = this.jobs.get(id);
    if (!job || job.wiped) throw new FsError('ENOENT', `job ${id} does not exist`);
    return job;
  }

  /** Accepts tasks (argv each): on disk before this returns, then queued. */
  async addTasks(job: Job, tasks: readonly (readonly string[])[]): Promise<void> {
    if (tasks.length === 0) return;
    this.checkWritable(job);
    const first = job.reserveIds(tasks.length);
    await mkdir(join(job.dir, 'out'), { recursive: true });
    await mkdir(join(job.dir, 'errout'), { recursive: true });
    await this.journal.append(...tasks.map((argv, i): JournalRecord => ['add', job.id, first + i, joinArgv(argv)]));
    for (const [i, argv] of tasks.entries()) job.addTask(first + i, argv, this.seq++);
    this.dispatch();
    this.maybeCompact();
  }

  checkWritable(job: Job): void {
    this.checkRunning();
    if (job.wiped) throw new FsError('ENOENT', `job ${job.id} has been wiped`);
    if (job.cancelled) throw new FsError('EPERM', `job ${job.id} is cancelled: it takes no more tasks`);
    if (job.closed) throw new FsError('EPERM', `job ${job.id} is closed: it takes no more tasks`);
  }

  private checkRunning(): void {
    if (this.stopping) throw new FsError('EIO', 'the scheduler is stopping');
  }

  /** A job verb that changes a setting (settings.ts checks it), journaled, then its effect. */
  async set(job: Job, verb: string, value: string): Promise<void> {
    if (job.wiped) throw new FsError('ENOENT', `job ${job.id} has been wiped`);
    if (verb === 'gen') return this.startGenerator(job, value);
    if (job.cancelled && verb !== 'name') throw new FsError('EPERM', `job ${job.id} is cancelled`);
    const record: JournalRecord = value === '' ? ['set', job.id, verb] : ['set', job.id, verb, value];
    applySetting(job, verb, value, true);
    await this.journal.append(record);
    applySetting(job, verb, value);
    if (verb === 'close') this.checkComplete(job);
    this.dispatch();
  }

  async cancel(job: Job): Promise<void> {
    if (job.wiped) throw new FsError('ENOENT', `job ${job.id} has been wiped`);
    if (job.cancelled) return;
    const queued = job.drain();
    const now = Date.now();
    await this.journal.append(
      ['set', job.id, 'cancel'],
      ...queued.map((t): JournalRecord => ['end', job.id, t.id, 'Cancelled', t.node, t.tries, now, 0, 'cancelled']),
    );
    job.cancelled = true;
    this.generators.get(job)?.stop();
    for (const t of queued) this.recordEnd(t, 'Cancelled', 'cancelled', now, 0, undefined);
    for (const [task, r] of this.running) if (task.job === job) r.abort.abort();
    this.checkComplete(job);
  }

  async wipe(job: Job): Promise<void> {
    if (job.wiped) throw new FsError('ENOENT', `job ${job.id} has been wiped`);
    await this.journal.append(['wipe', job.id]);
    job.wiped = true;
    job.drain();
    this.generators.get(job)?.stop();
    this.jobs.delete(job.id);
    for (const [task, r] of this.running) if (task.job === job) r.abort.abort();
    job.wait.end();
    job.stdout.end();
    job.stderr.end();
    await rm(job.dir, { recursive: true, force: true });
  }

  private async startGenerator(job: Job, cmd: string): Promise<void> {
    this.checkWritable(job);
    if (job.gen !== '') throw new FsError('EBUSY', `job ${job.id} has a generator already: ${job.gen}`);
    const argv = tokenize(cmd);
    if (argv.length === 0) throw new FsError('EINVAL', 'usage: gen CMD [ARG...]');
    await this.journal.append(['set', job.id, 'gen', cmd]);
    job.gen = cmd;
    job.generating = true;
    const gen = new Generator(job, argv, {
      cwd: this.node.defaultDir,
      env: { ...this.node.baseEnv, TASKFS_JOB: String(job.id) },
      add: (argvs) => this.addTasks(job, argvs),
      outputEnded: () => {
        job.generating = false;
        if (job.wiped || job.cancelled) return this.checkComplete(job);
        void this.set(job, 'close', '').catch((err) => (job.lastError = asFsError(err).message));
      },
      exited: () => {
        if (this.generators.get(job) === gen) this.generators.delete(job);
      },
    });
    this.generators.set(job, gen);
  }

  // ---- workers -----------------------------------------------------------------

  addWorker(worker: Worker): void {
    const old = this.workers.get(worker.name);
    if (old && !old.lost) {
      void worker.close();
      throw new FsError('EEXIST', `worker ${worker.name} is already here`);
    }
    this.workers.delete(worker.name); // a lost one of that name: the new one takes its line
    this.workers.set(worker.name, worker);
    worker.changed = () => this.dispatch();
    log('worker %s joins', worker.name);
    this.dispatch();
  }

  /** `delnode NAME`: the worker leaves; its running tasks go back to the queue. */
  async removeWorker(name: string): Promise<void> {
    const worker = this.workers.get(name);
    if (!worker) throw new FsError('ENOENT', `delnode: no worker ${name}`);
    this.workers.delete(name);
    await worker.close();
    const child = this.node.childNodes.get(name);
    if (child && worker instanceof ChildWorker) await this.node.unmountChild(name).catch(() => undefined);
  }

  /** A pull door's worker leaves quietly when its file closes: it is not a machine. */
  forgetWorker(worker: Worker): void {
    if (this.workers.get(worker.name) === worker) this.workers.delete(worker.name);
  }

  busyOf(worker: Worker): number {
    return this.busy.get(worker) ?? 0;
  }

  // ---- dispatch ------------------------------------------------------------------

  /** Hands queued tasks to free workers until one side runs out. Re-entrant calls run once more. */
  dispatch(): void {
    if (this.stopping) return;
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.again = false;
        for (const worker of this.workers.values()) {
          while (!worker.lost && worker.free() > 0) {
            const job = pickJob(this.jobs.values(), worker.attrs);
            if (!job) break;
            this.start(worker, job.take()!);
          }
        }
        for (const gen of this.generators.values()) gen.pace(this.freeSlots());
      } while (this.again);
    } finally {
      this.dispatching = false;
    }
  }

  /** Free capacity of every live worker: how far ahead generators read. */
  private freeSlots(): number {
    let n = 0;
    for (const w of this.workers.values()) if (!w.lost) n += Math.max(0, w.slots() - this.busyOf(w));
    return n;
  }

  private start(worker: Worker, task: Task): void {
    const job = task.job;
    task.state = 'Running';
    task.tries++;
    task.node = worker.name;
    task.startMs = Date.now();
    job.running++;
    this.busy.set(worker, this.busyOf(worker) + 1);
    const r: Running = { worker, abort: new AbortController(), timedOut: false };
    if (job.timeout > 0) {
      r.timer = setTimeout(() => {
        r.timedOut = true;
        r.abort.abort();
      }, job.timeout * 1000);
    }
    this.running.set(task, r);
    void this.journal
      .append(['run', job.id, task.id, worker.name, task.tries, task.startMs])
      .catch((err) => (job.lastError = asFsError(err).message));
    const run: TaskRun = {
      job: job.id,
      task: task.id,
      try: task.tries,
      argv: task.argv,
      env: { TASKFS_JOB: String(job.id), TASKFS_TASK: String(task.id), TASKFS_TRY: String(task.tries) },
      outPath: job.outPath(task.id),
      errPath: job.errPath(task.id),
      signal: r.abort.signal,
    };
    worker.run(run).then(
      (status) => this.ended(task, r, status, undefined, run.ends),
      (err) => this.ended(task, r, '', asFsError(err).message),
    );
  }

  private async ended(
    task: Task,
    r: Running,
    status: string,
    lost: string | undefined,
    ends?: OutputEnds,
  ): Promise<void> {
    clearTimeout(r.timer);
    this.busy.set(r.worker, this.busyOf(r.worker) - 1);
    if (this.stopping) return; // the node stops: the journal says the task runs again
    const job = task.job;
    const realMs = Date.now() - task.startMs;
    let next: TaskState;
    if (job.cancelled || job.wiped) next = 'Cancelled';
    else if (lost !== undefined) {
      task.lostTries++;
      status = `lost: ${lost}`;
      next = task.lostTries >= MAX_LOST_TRIES ? 'Failed' : 'Queued';
    } else {
      if (r.timedOut) status = 'timeout';
      next = status === '' ? 'Done' : task.tries - task.lostTries <= job.retries ? 'Queued' : 'Failed';
    }
    if (next === 'Cancelled' && status === '') status = 'killed';
    try {
      const out = next === 'Queued' ? undefined : (ends ?? (await outputEnds(job, task.id)));
      if (job.wiped) {
        this.running.delete(task);
        job.running--;
        return;
      }
      await this.journal.append(['end', job.id, task.id, next, task.node, task.tries, task.startMs, realMs, status]);
      this.running.delete(task);
      job.running--;
      if (next === 'Queued') {
        task.status = status;
        job.enqueue(task, true);
      } else this.recordEnd(task, next, status, task.startMs, realMs, out);
    } catch (err) {
      job.lastError = asFsError(err).message;
    }
    this.checkComplete(job);
    this.dispatch();
    this.maybeCompact();
  }

  /** A task has ended for good: counts, the wait log, the output logs, the generator. */
  recordEnd(task: Task, state: TaskState, status: string, startMs: number, realMs: number, out?: OutputEnds): void {
    const job = task.job;
    task.state = state;
    task.status = status;
    task.startMs = startMs;
    task.realMs = realMs;
    if (state === 'Done') job.done++;
    else job.failed++;
    job.ended.push(task);
    job.wait.append(`${task.id} ${task.node} ${startMs} ${realMs} ${quote(status)}\n`);
    if (out) {
      job.stdout.add(job.outPath(task.id), out.out[0], out.out[1]);
      job.stderr.add(job.errPath(task.id), out.err[0], out.err[1]);
    }
    this.generators.get(job)?.report(task.id, status);
  }

  checkComplete(job: Job): void {
    if (!job.complete) return;
    this.generators.get(job)?.endInput();
    job.wait.end();
    job.stdout.end();
    job.stderr.end();
  }

  // ---- the journal's size ------------------------------------------------------

  /** The state as the records that make it, for compaction. */
  snapshot(): JournalRecord[] {
    const records: JournalRecord[] = [];
    for (const job of this.jobs.values()) {
      records.push(['job', job.id]);
      for (const [verb, value] of job.settingRecords()) records.push(['set', job.id, verb, ...value]);
      for (const t of job.tasks) records.push(['add', job.id, t.id, joinArgv(t.argv)]);
      for (const t of job.ended)
        records.push(['end', job.id, t.id, t.state, t.node, t.tries, t.startMs, t.realMs, t.status]);
      for (const t of job.tasks)
        if (t.state !== 'Done' && t.state !== 'Failed' && t.state !== 'Cancelled' && t.tries > 0)
          records.push(['run', job.id, t.id, t.node, t.tries, t.startMs]);
    }
    return records;
  }

  /** Compacts once the journal holds more than twice what the state needs (and at least 20,000 records). */
  private maybeCompact(): void {
    if (this.compacting || this.journal.appended < 20_000) return;
    let live = 0;
    for (const job of this.jobs.values()) live += 2 + job.tasks.length + job.ended.length;
    if (this.journal.appended < 2 * live) return;
    this.compacting = this.journal
      .compact(this.snapshot())
      .catch((err) => log('compaction: %s', (err as Error).message))
      .finally(() => (this.compacting = undefined));
  }

  // ---- stop --------------------------------------------------------------------

  /** Before the node stops: running tasks are left to the journal (they run again after a restart). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.node.watchers.childAdded.delete(this.onChild);
    for (const gen of this.generators.values()) gen.stop();
    for (const job of this.jobs.values()) {
      job.wait.end();
      job.stdout.end();
      job.stderr.end();
    }
    await Promise.allSettled([...this.workers.values()].map((w) => w.close()));
    await this.compacting;
    await this.journal.close();
  }
}

async function outputEnds(job: Job, id: number): Promise<OutputEnds> {
  const [out, err] = await Promise.all([fileEnd(job.outPath(id)), fileEnd(job.errPath(id))]);
  return { out, err };
}

async function fileEnd(path: string): Promise<[number, number | undefined]> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return [0, undefined];
  try {
    const { size } = await fh.stat();
    if (size === 0) return [0, undefined];
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size - 1);
    return [size, b[0]];
  } finally {
    await fh.close();
  }
}

/** Ends of task output files, each directory listed once (the replay's `finish`). */
class OutputFiles {
  private readonly listed = new Map<string, Set<string>>();

  end(path: string): [number, number | undefined] {
    const dir = dirname(path);
    let names = this.listed.get(dir);
    if (!names) {
      names = new Set(listOrEmpty(dir));
      this.listed.set(dir, names);
    }
    return names.has(basename(path)) ? fileEndSync(path) : [0, undefined];
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function fileEndSync(path: string): [number, number | undefined] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [0, undefined];
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return [0, undefined];
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, size - 1);
    return [size, b[0]];
  } finally {
    closeSync(fd);
  }
}

function joinArgv(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}

/** The journal's records turned back into jobs (journal.ts gives the format). */
class Replay {
  private readonly jobs = new Map<number, Job>();
  private readonly ends: { task: Task; state: TaskState; status: string; start: number; real: number }[] = [];
  private maxId = -1;
  private seq = 0;

  constructor(private readonly dir: string) {}

  apply(w: string[]): void {
    const id = Number(w[1]);
    this.maxId = Math.max(this.maxId, id);
    const job = this.jobs.get(id);
    switch (w[0]) {
      case 'job':
        this.jobs.set(id, new Job(id, join(this.dir, String(id))));
        return;
      case 'wipe':
        this.jobs.delete(id);
        return;
    }
    if (!job) return;
    const task = job.tasks[Number(w[2])];
    switch (w[0]) {
      case 'set':
        applySetting(job, w[2]!, w[3] ?? '');
        return;
      case 'add':
        job.reserveIds(1);
        job.addTask(Number(w[2]), tokenize(w[3] ?? ''), this.seq++);
        return;
      case 'run':
        if (task) {
          task.node = w[3]!;
          task.tries = Number(w[4]);
        }
        return;
      case 'end': {
        if (task?.state !== 'Queued') return;
        task.node = w[4]!;
        task.tries = Number(w[5]);
        const state = w[3] as TaskState;
        if (state === 'Queued') {
          task.status = w[8] ?? '';
          if (task.status.startsWith('lost: ')) task.lostTries++;
          return;
        }
        task.state = 'Running'; // out of the queue until finish() records its end, in order
        job.queued--;
        this.ends.push({ task, state, status: w[8] ?? '', start: Number(w[6]), real: Number(w[7]) });
      }
    }
  }

  /** Into the scheduler: ended tasks in the order they ended, the rest queued as they were. */
  finish(s: Scheduler): void {
    for (const job of this.jobs.values()) {
      s.jobs.set(job.id, job);
      if (job.gen !== '' && !job.closed) {
        job.closed = true;
        job.lastError = 'gen: the generator is not run again after a restart; the job is closed with the tasks it made';
      }
    }
    // Numbers go on from the highest ever made, wiped ones included.
    s.resume(this.maxId + 1, this.seq);
    // Most tasks wrote nothing, so had no output file made: a directory is
    // listed once rather than each missing file tried (an open that fails
    // costs an exception; 20,000 ended tasks spent 0.7 s of a restart there).
    const outputs = new OutputFiles();
    for (const e of this.ends) {
      const { job, id } = e.task;
      s.recordEnd(e.task, e.state, e.status, e.start, e.real, {
        out: outputs.end(job.outPath(id)),
        err: outputs.end(job.errPath(id)),
      });
    }
    for (const job of this.jobs.values()) {
      if (job.cancelled) for (const t of job.drain()) s.recordEnd(t, 'Cancelled', 'killed', Date.now(), 0);
      s.checkComplete(job);
    }
  }
}
