/**
 * The pull door, jobs/task (README "Jobs: the pull door"): every open of
 * it is a worker of one slot, for any program that can open a file. The
 * open file is a stream both ways, like a pipe (offsets are ignored):
 *
 *   read   blocks until a task is given, then returns one line
 *            JOB ID TRY COMMAND\n
 *          COMMAND quoted for sh (run it with sh -c "$COMMAND").
 *   write  lines:
 *            name NAME                 this worker's name in jobs/nodes (before its first task)
 *            attr KEY VALUE            an attribute (KEY=VALUE also works)
 *            result JOB ID STATUS OUTBYTES ERRBYTES
 *          then OUTBYTES of stdout and ERRBYTES of stderr. STATUS is an
 *          exit code (0 is success) or a quoted status word ('killed').
 *
 * Closing the file while a task is given sends it back to the queue.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { FsError, asFsError } from '../ns/errors.js';
import { park } from '../ns/park.js';
import type { OpenFile } from '../ns/types.js';
import { tokenize } from '../ns/quote.js';
import type { Scheduler } from './scheduler.js';
import { MAX_TASK_LINE_BYTES } from './task-lines.js';
import { parseAttr, type TaskRun, type Worker } from './worker.js';

let doors = 0;

interface Given {
  run: TaskRun;
  resolve(status: string): void;
  reject(err: Error): void;
}

interface Payload {
  given?: Given;
  status: string;
  out: number;
  err: number;
}

export class DoorWorker implements Worker {
  name = `door${doors++}`;
  readonly attrs = new Map<string, string>();
  changed?: () => void;
  readonly handle: OpenFile;
  private closed = false;
  private wanting = false;
  private given?: Given;
  /** The task line being read, and how much of it was read. */
  private line = Buffer.alloc(0);
  private readPos = 0;
  private readonly readers = new Set<() => void>();
  private input = Buffer.alloc(0);
  private payload?: Payload;

  constructor(private readonly s: Scheduler) {
    s.addWorker(this);
    this.handle = {
      read: (_offset, count, signal) => this.read(count, signal),
      write: async (data) => {
        try {
          this.write(data);
        } catch (err) {
          const e = asFsError(err);
          s.lastError = `task: ${e.message}`;
          throw new FsError(e.code, s.lastError);
        }
        return data.length;
      },
      close: async () => this.close(),
    };
  }

  get lost(): string | undefined {
    return this.closed ? `${this.name}: closed` : undefined;
  }

  slots(): number {
    return 1;
  }

  free(): number {
    return this.wanting && !this.given && !this.closed ? 1 : 0;
  }

  run(t: TaskRun): Promise<string> {
    this.wanting = false;
    return new Promise((resolve, reject) => {
      this.given = { run: t, resolve, reject };
      this.readPos = 0;
      const cmd = t.argv.map(shQuote).join(' ');
      this.line = Buffer.from(`${t.job} ${t.task} ${t.try} ${cmd}\n`);
      const kill = () => this.finish('killed');
      t.signal.addEventListener('abort', kill, { once: true });
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.readers) w();
    this.readers.clear();
  }

  /**
   * Offsets are ignored: a read and a write on one open file share its
   * position (sh's `read <&3` then `echo >&3`), so the door is a stream,
   * as a pipe would be. Each read returns the rest of the current line.
   */
  private async read(count: number, signal?: AbortSignal): Promise<Buffer> {
    for (;;) {
      if (this.readPos < this.line.length) {
        const piece = this.line.subarray(this.readPos, this.readPos + count);
        this.readPos += piece.length;
        return piece;
      }
      if (this.closed) return Buffer.alloc(0);
      if (!this.given && !this.wanting) {
        this.wanting = true;
        this.changed?.();
        continue; // the scheduler may have given a task at once
      }
      await park(this.readers, (wake) => wake, signal);
    }
  }

  private write(data: Buffer): void {
    this.input = this.input.length === 0 ? Buffer.from(data) : Buffer.concat([this.input, data]);
    while (this.input.length > 0) {
      if (this.payload) {
        this.takePayload();
        if (this.payload) return;
        continue;
      }
      const nl = this.input.indexOf(0x0a);
      if (nl < 0) {
        if (this.input.length > MAX_TASK_LINE_BYTES) {
          this.input = Buffer.alloc(0);
          throw new FsError('E2BIG', `a line longer than ${MAX_TASK_LINE_BYTES} bytes: dropped`);
        }
        return;
      }
      const line = this.input.subarray(0, nl).toString();
      this.input = this.input.subarray(nl + 1);
      this.command(line);
    }
  }

  private command(line: string): void {
    const [verb, ...w] = tokenize(line);
    if (verb === undefined) return;
    if (verb === 'name' && w.length === 1) return this.rename(w[0]!);
    if (verb === 'attr' && (w.length === 1 || w.length === 2)) {
      const kv = w.length === 2 ? ([w[0]!, w[1]!] as [string, string]) : parseAttr(w[0]!);
      if (!kv) throw new FsError('EINVAL', `attr: want KEY VALUE or KEY=VALUE, not ${w[0]}`);
      this.attrs.set(kv[0], kv[1]);
      this.changed?.();
      return;
    }
    if (verb === 'result' && w.length === 5 && w.slice(3).every((n) => /^\d{1,12}$/.test(n))) {
      const [job, id, status, out, err] = w as [string, string, string, string, string];
      const given = this.given;
      const mine = given && String(given.run.job) === job && String(given.run.task) === id;
      this.payload = {
        given: mine ? given : undefined,
        status: exitStatus(status),
        out: Number(out),
        err: Number(err),
      };
      if (mine) {
        writeFileSync(given.run.outPath, '');
        writeFileSync(given.run.errPath, '');
      }
      this.takePayload();
      if (!mine) {
        const had = given ? `it was given ${given.run.job} ${given.run.task}` : 'it was given none';
        throw new FsError('EINVAL', `result for task ${job} ${id}, which this worker was not given (${had})`);
      }
      return;
    }
    throw new FsError(
      'EINVAL',
      `bad line ${JSON.stringify(line.length > 60 ? line.slice(0, 60) + '...' : line)}: want name NAME, attr KEY VALUE or result JOB ID STATUS OUTBYTES ERRBYTES`,
    );
  }

  /** Output bytes after a result line, to the task's files (or nowhere, for a task not given). */
  private takePayload(): void {
    const p = this.payload!;
    for (const [which, path] of [
      ['out', p.given?.run.outPath],
      ['err', p.given?.run.errPath],
    ] as const) {
      const n = Math.min(p[which], this.input.length);
      if (n === 0) continue;
      if (path) appendFileSync(path, this.input.subarray(0, n));
      this.input = this.input.subarray(n);
      p[which] -= n;
      if (p[which] > 0) return;
    }
    if (p.out > 0 || p.err > 0) return;
    this.payload = undefined;
    if (p.given) this.finish(p.status);
  }

  private finish(status: string): void {
    const given = this.given;
    if (!given) return;
    this.given = undefined;
    given.resolve(status);
  }

  private rename(name: string): void {
    if (!/^[\w.-]+$/.test(name)) throw new FsError('EINVAL', `name: bad worker name ${JSON.stringify(name)}`);
    if (this.given) throw new FsError('EBUSY', 'name: not while a task is given');
    const other = this.s.workers.get(name);
    if (other && other !== this && !other.lost) throw new FsError('EEXIST', `name: worker ${name} is already here`);
    this.s.forgetWorker(this);
    this.name = name;
    this.s.addWorker(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake();
    const given = this.given;
    this.given = undefined;
    given?.reject(new Error(`${this.name}: the door was closed`));
    this.s.forgetWorker(this);
  }
}

function exitStatus(word: string): string {
  if (!/^\d+$/.test(word)) return word;
  return word === '0' ? '' : `exit: ${Number(word)}`;
}

/** A word for sh: single quotes, with a quote as '\'' . */
function shQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
