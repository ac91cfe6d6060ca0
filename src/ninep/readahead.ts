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
 */
import { FsError } from '../ns/errors.js';
import { park } from '../ns/park.js';

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

type Fetch = (offset: number, count: number, signal?: AbortSignal) => Promise<Buffer>;

export class ReadAhead {
  /** Answers not yet served, in order; `pos` is the offset of ready[0][0]. */
  private ready: Buffer[] = [];
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

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    if (offset !== this.pos) this.reset();
    for (;;) {
      const head = this.ready[0];
      if (head) return this.serve(head, count);
      if (this.failure !== undefined) {
        const err = this.failure;
        this.reset();
        throw err;
      }
      if (this.ended || !this.inflight) break;
      await park(this.arrived, (wake) => wake, signal);
    }
    this.ended = false;
    const data = await this.fetch(offset, count, signal);
    this.streak = data.length === count ? this.streak + 1 : 0;
    this.pos = offset + data.length;
    if (this.streak >= STREAK) this.next();
    return data;
  }

  /** Stops the request ahead (it is flushed) and forgets what came back. */
  reset(): void {
    this.inflight?.stop.abort(new FsError('EINTR', 'read-ahead dropped'));
    this.inflight = undefined;
    this.ready = [];
    this.failure = undefined;
    this.ended = false;
    this.streak = 0;
    this.pos = -1;
  }

  private serve(head: Buffer, count: number): Buffer {
    const data = head.subarray(0, count);
    if (data.length === head.length) this.ready.shift();
    else this.ready[0] = head.subarray(count);
    this.pos += data.length;
    this.next();
    return data;
  }

  /** Sends the next request of the chain, if there is room ahead and none is in flight. */
  private next(): void {
    if (this.inflight || this.ended || this.streak < STREAK || this.ready.length >= DEPTH) return;
    if (!this.budget.take()) return;
    const at = this.pos + this.ready.reduce((n, b) => n + b.length, 0);
    const stop = new AbortController();
    const mine = {
      stop,
      reply: this.fetch(at, this.unit, stop.signal).then(
        (data) => {
          if (this.inflight !== mine) return;
          this.inflight = undefined;
          // An empty answer is the end: kept, so the reader gets it without asking again.
          this.ready.push(data);
          // Short: the reader caught up with the writer (or the end); plain reads from here.
          if (data.length < this.unit) {
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
