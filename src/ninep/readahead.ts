/**
 * Read-ahead for a remote file read in sequence. FUSE reads a stream from a
 * child node 128 KiB at a time (direct I/O: no kernel read-ahead), each read
 * waiting for its Tread, so the child, the wire and the reader never
 * overlap. Once reads come in sequence and come back full (the data is
 * there, not trickling in), the next Tread of a whole iounit goes out as
 * soon as the last one is answered, and the reader is served from what came
 * back, up to DEPTH answers ahead of it.
 *
 * Requests ahead form a chain, one in flight at a time, each at the offset
 * where the last answer ended: the server sees exactly the reads a plain
 * reader would make, in order, with no gap and nothing read twice, so it is
 * safe on files that hand out each byte once (an inner session's merged
 * output). A short answer means the reader caught up with the writer: the
 * chain stops and reads go out one at a time again, so a trickling stream
 * never holds more than one blocked request per reader.
 *
 * An answer that arrived in a pooled frame (rread-frame.ts) stays the
 * reader's to recycle while no slice of it has been handed out: readInto
 * copies and gives the frame back once it is used up, and readFrame hands a
 * whole answer over with its frame, so a relaying node sends it on as is.
 */
import { FsError } from '../ns/errors.js';
import { park } from '../ns/park.js';
import { giveFrame } from './rread-frame.js';

/** Answers held ahead of the reader, per file. */
const DEPTH = 3;
/** Full sequential reads in a row before reading ahead. */
const STREAK = 2;

/** Requests ahead in flight, shared by the files of one connection. */
export class AheadBudget {
  constructor(private left: number) {}
  take(): boolean {
    if (this.left <= 0) return false;
    this.left--;
    return true;
  }
  give(): void {
    this.left++;
  }
}

/** An Rread's data, and the pooled frame it lies in if it came in one. */
export interface Answer {
  data: Buffer;
  frame?: Buffer;
}

type Fetch = (offset: number, count: number, signal?: AbortSignal) => Promise<Answer>;

/** Takes what a reader gets from the head answer (at most `count` bytes), leaving the rest in `held.data`. */
type Serve<T> = (held: Answer, count: number) => T;

/** A slice, by reference: the frame can no longer be recycled. */
const serveRef: Serve<Buffer> = (held, count) => {
  const data = held.data.subarray(0, count);
  held.data = held.data.subarray(data.length);
  if (held.data.length > 0) held.frame = undefined;
  return data;
};

/** The whole answer with its frame when it fits, else a slice. */
const serveWhole: Serve<Answer> = (held, count) => {
  if (held.frame === undefined || held.data.length > count) return { data: serveRef(held, count) };
  const whole = { ...held };
  held.data = held.data.subarray(held.data.length);
  held.frame = undefined;
  return whole;
};

/** Copies into `target`; a frame used up goes back to its pool. */
const serveInto =
  (target: Buffer): Serve<number> =>
  (held, count) => {
    const n = held.data.copy(target, 0, 0, count);
    held.data = held.data.subarray(n);
    if (held.data.length === 0 && held.frame !== undefined) {
      giveFrame(held.frame);
      held.frame = undefined;
    }
    return n;
  };

export class ReadAhead {
  /** Answers not yet served, in order; `pos` is the offset of ready[0].data[0]. */
  private ready: Answer[] = [];
  private pos = -1;
  private streak = 0;
  /** The request ahead, at `pos` + what is ready. */
  private inflight?: { reply: Promise<void>; stop: AbortController };
  private failure?: unknown;
  private ended = false;
  private readonly arrived = new Set<() => void>();

  constructor(
    private readonly fetch: Fetch,
    /** Bytes per request ahead: the file's iounit. */
    private readonly unit: number,
    private readonly budget: AheadBudget,
  ) {}

  read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    return this.take(offset, count, signal, serveRef);
  }

  /** As read, into `target`. */
  readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    return this.take(offset, target.length, signal, serveInto(target));
  }

  /** As read; a whole answer that came in a pooled frame comes with it, and the frame is the caller's. */
  readFrame(offset: number, count: number, signal?: AbortSignal): Promise<Answer> {
    return this.take(offset, count, signal, serveWhole);
  }

  private async take<T>(offset: number, count: number, signal: AbortSignal | undefined, serve: Serve<T>): Promise<T> {
    if (offset !== this.pos) this.reset();
    for (;;) {
      const head = this.ready[0];
      if (head) return this.serve(head, count, serve);
      if (this.failure !== undefined) {
        const err = this.failure;
        this.reset();
        throw err;
      }
      if (this.ended || !this.inflight) break;
      await park(this.arrived, (wake) => wake, signal);
    }
    this.ended = false;
    const answer = await this.fetch(offset, count, signal);
    const n = answer.data.length;
    this.streak = n === count ? this.streak + 1 : 0;
    this.pos = offset + n;
    if (this.streak >= STREAK) this.next();
    return serve(answer, count);
  }

  /** Stops the request ahead (it is flushed) and forgets what came back. */
  reset(): void {
    this.inflight?.stop.abort(new FsError('EINTR', 'read-ahead dropped'));
    this.inflight = undefined;
    for (const a of this.ready) if (a.frame !== undefined) giveFrame(a.frame);
    this.ready = [];
    this.failure = undefined;
    this.ended = false;
    this.streak = 0;
    this.pos = -1;
  }

  private serve<T>(head: Answer, count: number, serve: Serve<T>): T {
    const before = head.data.length;
    const out = serve(head, count);
    if (head.data.length === 0) this.ready.shift();
    this.pos += before - head.data.length;
    this.next();
    return out;
  }

  /** Sends the next request of the chain, if there is room ahead and none is in flight. */
  private next(): void {
    if (this.inflight || this.ended || this.streak < STREAK || this.ready.length >= DEPTH) return;
    if (!this.budget.take()) return;
    const at = this.pos + this.ready.reduce((n, a) => n + a.data.length, 0);
    const stop = new AbortController();
    const mine = {
      stop,
      reply: this.fetch(at, this.unit, stop.signal).then(
        (answer) => {
          if (this.inflight !== mine) {
            if (answer.frame !== undefined) giveFrame(answer.frame);
            return;
          }
          this.inflight = undefined;
          // An empty answer is the end: kept, so the reader gets it without asking again.
          this.ready.push(answer);
          // Short: the reader caught up with the writer (or the end); plain reads from here.
          if (answer.data.length < this.unit) {
            this.ended = true;
            this.streak = 0;
          }
          this.next();
        },
        (err) => {
          if (this.inflight !== mine) return;
          this.inflight = undefined;
          this.failure = err;
        },
      ),
    };
    this.inflight = mine;
    void mine.reply.finally(() => {
      this.budget.give();
      for (const w of this.arrived) w();
      this.arrived.clear();
    });
  }
}
