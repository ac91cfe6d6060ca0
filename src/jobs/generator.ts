/**
 * A job's task generator (`gen CMD`, README "Jobs: the generator"), after
 * the Inferno Grid's hooks: each line CMD prints is a task, read only as
 * capacity frees up (its stdout is paused otherwise, so an endless
 * generator blocks in write and the daemon holds a bounded amount); each
 * task that ends is told on its stdin as `ID STATUS`. Its stdout closing
 * closes the job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { quote, tokenize } from '../ns/quote.js';
import type { Job } from './job.js';
import { MAX_TASK_LINE_BYTES } from './task-lines.js';

/** Tasks read ahead beyond the free slots. */
const READ_AHEAD = 64;

export interface GeneratorHooks {
  cwd: string;
  env: Record<string, string>;
  /** Accepts parsed tasks (journaled before it resolves). */
  add(tasks: string[][]): Promise<void>;
  /** It closed its stdout (every task it printed is in): the job may complete. */
  outputEnded(): void;
  /** The process is gone: no more reports. */
  exited(): void;
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
  private batch: string[][] = [];
  private lastFree = 0;
  private stopped = false;

  constructor(
    private readonly job: Job,
    argv: string[],
    private readonly hooks: GeneratorHooks,
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { cwd: hooks.cwd, env: hooks.env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdin!.on('error', () => undefined); // a generator that stops reading is not our failure
    this.proc.stdout!.on('data', (chunk: Buffer) => this.data(chunk));
    let outputEnded = false;
    const endOutput = () => {
      if (outputEnded) return;
      outputEnded = true;
      this.line(); // a last line without a newline
      void this.adding.then(() => this.hooks.outputEnded());
    };
    this.proc.stdout!.on('end', endOutput);
    this.proc.on('error', (err) => {
      this.fail(`gen: ${err.message}`);
      endOutput();
      this.hooks.exited();
    });
    this.proc.on('exit', (code, signal) => {
      if (code !== 0 && !this.stopped)
        this.fail(`gen: ${argv[0]} exited with ${signal ? `signal ${signal}` : `status ${code}`}`);
      endOutput();
      this.hooks.exited();
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
    this.batch.push(argv);
    this.pace(this.lastFree);
    if (this.batch.length === 1) this.adding = this.adding.then(() => this.addBatch());
  }

  /** Lines read while the last batch was being journaled go in together: one fsync for them all. */
  private async addBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    await this.hooks.add(batch).catch((err) => this.fail(`gen: ${err.message}`));
    this.pending -= batch.length;
    this.pace(this.lastFree);
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

  /** The job is complete: the generator's stdin ends, so it may end too. */
  endInput(): void {
    this.proc.stdin!.end();
  }

  stop(): void {
    this.stopped = true;
    this.proc.stdin!.destroy();
    this.proc.stdout!.destroy();
    if (this.proc.exitCode === null) this.proc.kill('SIGTERM');
  }
}
