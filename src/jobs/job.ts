/**
 * A job (README "Jobs"): a bag of tasks, each one command, with its
 * settings (the job verbs), its queue of tasks waiting for a worker, and
 * what readers of its files see: the wait log and the stdout and stderr
 * logs over the tasks' output files. States are the words the files show.
 */
import { join } from 'node:path';
import { quote } from '../ns/quote.js';
import { OutputLog } from './output-log.js';
import { TextLog } from './text-log.js';

export type TaskState = 'Queued' | 'Running' | 'Done' | 'Failed' | 'Cancelled';
export type JobState = 'Open' | 'Stopped' | 'Closed' | 'Complete' | 'Cancelled';

export const PRIORITY_WORDS: Readonly<Record<string, number>> = { high: 10, normal: 0, low: -10 };

export interface Task {
  readonly job: Job;
  readonly id: number;
  readonly argv: readonly string[];
  state: TaskState;
  /** The worker it ran on last, '-' before it ran. */
  node: string;
  tries: number;
  /** Attempts that ended because their worker went away. */
  lostTries: number;
  /** As in a session's wait: '' for exit 0, 'exit: N', ... */
  status: string;
  startMs: number;
  realMs: number;
  /** Queue order: first in, first out within one priority. */
  seq: number;
}

export class Job {
  name = '';
  priority = 0;
  stopped = false;
  closed = false;
  cancelled = false;
  retries = 0;
  /** Seconds; 0 for none. */
  timeout = 0;
  readonly need = new Map<string, string>();
  gen = '';
  /** A generator is running: the job is not complete before it ends. */
  generating = false;
  readonly tasks: Task[] = [];
  /** Tasks that ended for good, in the order they ended (the wait log's order). */
  readonly ended: Task[] = [];
  private nextId = 0;
  private queue: Task[] = [];
  private head = 0;
  queued = 0;
  running = 0;
  done = 0;
  failed = 0;
  readonly wait = new TextLog();
  readonly stdout = new OutputLog();
  readonly stderr = new OutputLog();
  lastError = '';
  wiped = false;

  constructor(
    readonly id: number,
    /** Where its task output lives: out/ID and errout/ID. */
    readonly dir: string,
  ) {}

  get state(): JobState {
    if (this.cancelled) return 'Cancelled';
    if (this.complete) return 'Complete';
    if (this.stopped) return 'Stopped';
    return this.closed ? 'Closed' : 'Open';
  }

  /** Closed (or cancelled), no generator, and every task ended. */
  get complete(): boolean {
    return (this.closed || this.cancelled) && !this.generating && this.queued === 0 && this.running === 0;
  }

  outPath(id: number): string {
    return join(this.dir, 'out', String(id));
  }

  errPath(id: number): string {
    return join(this.dir, 'errout', String(id));
  }

  /** Numbers for `n` tasks about to be journaled: taken at once, so writes in flight never share one. */
  reserveIds(n: number): number {
    const first = this.nextId;
    this.nextId += n;
    return first;
  }

  addTask(id: number, argv: readonly string[], seq: number): Task {
    const task: Task = {
      job: this,
      id,
      argv,
      state: 'Queued',
      node: '-',
      tries: 0,
      lostTries: 0,
      status: '',
      startMs: 0,
      realMs: 0,
      seq,
    };
    this.tasks[id] = task;
    this.enqueue(task);
    return task;
  }

  /** Back in line: a task that comes back goes first, in its old place. */
  enqueue(task: Task, front = false): void {
    task.state = 'Queued';
    this.queued++;
    if (!front) this.queue.push(task);
    else if (this.head > 0) this.queue[--this.head] = task;
    else this.queue.unshift(task);
  }

  /** The first queued task, skipping those cancelled while queued. */
  peek(): Task | undefined {
    while (this.head < this.queue.length && this.queue[this.head]!.state !== 'Queued') this.head++;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return this.queue[this.head];
  }

  take(): Task | undefined {
    const task = this.peek();
    if (!task) return undefined;
    this.head++;
    this.queued--;
    return task;
  }

  /** Queued tasks, removed from the queue (for cancel). */
  drain(): Task[] {
    const out: Task[] = [];
    for (let t = this.take(); t; t = this.take()) out.push(t);
    return out;
  }

  commandText(task: Task): string {
    return task.argv.map(quote).join(' ');
  }

  /** One line of jobs/status. */
  statusLine(): string {
    const { id, state, priority, queued, running, done, failed } = this;
    return `${id} ${state} ${priority} ${queued} ${running} ${done} ${failed} ${quote(this.name)}\n`;
  }

  /** The settings as verbs with their values: the ctl file's text and the journal's snapshot. */
  settingRecords(): [string, string[]][] {
    const records: [string, string[]][] = [
      ['name', [this.name]],
      ['priority', [String(this.priority)]],
      ['retries', [String(this.retries)]],
      ['timeout', [String(this.timeout)]],
      ...[...this.need].map(([k, v]): [string, string[]] => ['need', [`${k}=${v}`]]),
    ];
    if (this.gen) records.push(['gen', [this.gen]]);
    if (this.stopped) records.push(['stop', []]);
    if (this.closed) records.push(['close', []]);
    if (this.cancelled) records.push(['cancel', []]);
    return records;
  }

  /** The job's ctl file: its settings, one verb line each. */
  settings(): string {
    return this.settingRecords()
      .map(([verb, value]) => [verb, ...value.map(quote)].join(' ') + '\n')
      .join('');
  }
}
