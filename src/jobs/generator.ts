/**
 * A job's task generator (`gen CMD`, README "Jobs: the generator"), after
 * the Inferno Grid's hooks: each line CMD prints is a task, read only as
 * capacity frees up (its stdout is paused otherwise, so an endless
 * generator blocks in write and the daemon holds a bounded amount); each
 * task that ends is told on its stdin as `ID STATUS`. Its stdout closing
 * closes the job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { quote, tokenize } from '../taskfs/quote.js';
import type { Job } from './job.js';
import { MAX_TASK_LINE_BYTES } from './task-lines.js';

/** Tasks read ahead beyond the free slots. */
const READ_AHEAD = 64;

export interface GeneratorHooks {
  cwd: string;
  env: Record<string, string>;
  /** Accepts parsed tasks (journaled before it resolves). */
  add(tasks: string[][]): Promise<void>;
  /** The generator is over; `why` when it failed. */
  ended(why?: string): void;
}

export class Generator {
  private readonly proc: ChildProcess;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private skipping = false;
  private lineNo = 0;
  private adding = Promise.resolve();
  private paused = false;
  /** Lines read and not yet journaled. */
  private pending = 0;
  private lastFree = 0;
  private problem?: string;

  constructor(
    private readonly job: Job,
    argv: string[],
    private readonly hooks: GeneratorHooks,
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { cwd: hooks.cwd, env: hooks.env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdin!.on('error', () => undefined); // a generator that stops reading is not our failure
    this.proc.stdout!.on('data', (chunk: Buffer) => this.data(chunk));
    let outEnded = false;
    let exit: string | undefined;
    const finish = () => {
      if (!outEnded || exit === undefined) return;
      void this.adding.then(() => this.hooks.ended(this.problem ?? (exit === '' ? undefined : exit)));
    };
    this.proc.stdout!.on('end', () => {
      this.line(); // a last line without a newline
      outEnded = true;
      finish();
    });
    this.proc.on('error', (err) => {
      exit = `gen: ${err.message}`;
      outEnded = true;
      finish();
    });
    this.proc.on('exit', (code, signal) => {
      exit ??= code === 0 ? '' : `gen: ${argv[0]} exited with ${signal ? `signal ${signal}` : `status ${code}`}`;
      finish();
    });
  }

  private data(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.keep(chunk.subarray(start, nl));
      this.line();
      start = nl + 1;
    }
    this.keep(chunk.subarray(start));
  }

  private keep(piece: Buffer): void {
    if (this.skipping || piece.length === 0) return;
    if (this.partialBytes + piece.length > MAX_TASK_LINE_BYTES) {
      this.skipping = true;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    this.partial.push(Buffer.from(piece));
    this.partialBytes += piece.length;
  }

  private line(): void {
    this.lineNo++;
    const text = Buffer.concat(this.partial).toString();
    const skipped = this.skipping;
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
    if (skipped) return this.fail(`gen: line ${this.lineNo} is longer than ${MAX_TASK_LINE_BYTES} bytes: dropped`);
    let argv: string[];
    try {
      argv = tokenize(text);
    } catch (err) {
      return this.fail(`gen: line ${this.lineNo}: ${(err as Error).message}`);
    }
    if (argv.length === 0) return;
    this.pending++;
    this.pace(this.lastFree);
    this.adding = this.adding.then(() =>
      this.hooks
        .add([argv])
        .catch((err) => this.fail(`gen: ${err.message}`))
        .finally(() => {
          this.pending--;
          this.pace(this.lastFree);
        }),
    );
  }

  /** A bad line is dropped and said in the job's err; the generator goes on. */
  private fail(why: string): void {
    this.job.lastError = why;
  }

  /** Reads on while the queue holds fewer than the free slots and a margin; pauses otherwise. */
  pace(freeSlots: number): void {
    this.lastFree = freeSlots;
    const full = this.job.queued + this.pending >= freeSlots + READ_AHEAD;
    if (full && !this.paused) this.proc.stdout!.pause();
    else if (!full && this.paused) this.proc.stdout!.resume();
    this.paused = full;
  }

  report(id: number, status: string): void {
    if (this.proc.stdin!.writable) this.proc.stdin!.write(`${id} ${quote(status)}\n`);
  }

  stop(): void {
    this.proc.stdin!.destroy();
    this.proc.stdout!.destroy();
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
  }
}
