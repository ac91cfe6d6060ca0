/**
 * Write-behind for a stream written to a remote file (a session's stdin on
 * a child node): a write returns once its bytes are queued, and the queue
 * goes out as one Twrite at a time of up to an iounit, so a writer feeding
 * 128 KiB FUSE writes is not held for a round trip each, and writes that
 * pile up while one is on the wire leave together.
 *
 * A writer streaming in small writes (`head -c` writes 4 KiB at a time, each
 * a FUSE write at the root) would still send about one Twrite per write, as
 * the round trip is no longer than the time between writes: when the last
 * Twrite was answered less than LINGER_MS ago and fewer than BATCH bytes
 * wait, they wait up to LINGER_MS for more. A lone write goes at once.
 *
 * One Twrite in flight keeps the bytes in order. A writer waits only for
 * room (at most `window` bytes queued and in flight), and waits before its
 * bytes are taken, so an interrupted write has consumed nothing. A failure
 * is reported by the next write, by drain() and by close: a caller that
 * must know (eof after stdin) drains first.
 */
import { park } from '../ns/park.js';

const LINGER_MS = 4;
const BATCH = 256 * 1024;

export class WriteBehind {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private inflightBytes = 0;
  private sending = false;
  private failure?: unknown;
  private readonly waiters = new Set<() => void>();
  private lastSent = Number.NEGATIVE_INFINITY;
  private linger?: NodeJS.Timeout;

  constructor(
    private readonly send: (data: Buffer) => Promise<void>,
    /** Bytes per Twrite: the file's iounit. */
    private readonly unit: number,
    /** Bytes queued and in flight at most. */
    private readonly window: number,
  ) {}

  async write(data: Buffer, signal?: AbortSignal): Promise<void> {
    this.check();
    while (this.pending() > 0 && this.pending() + data.length > this.window && this.failure === undefined) {
      await park(this.waiters, (wake) => wake, signal);
    }
    this.check();
    this.queued.push(data);
    this.queuedBytes += data.length;
    this.pump();
  }

  /** Resolves once every byte written has been taken; rejects with the first failure. */
  async drain(): Promise<void> {
    this.pump(true);
    while (this.pending() > 0 && this.failure === undefined) await park(this.waiters, (wake) => wake);
    this.check();
  }

  private pending(): number {
    return this.queuedBytes + this.inflightBytes;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private pump(now = false): void {
    if (this.sending || this.queuedBytes === 0 || this.failure !== undefined) return;
    if (!now && this.queuedBytes < Math.min(BATCH, this.unit) && performance.now() - this.lastSent < LINGER_MS) {
      this.linger ??= setTimeout(() => {
        this.linger = undefined;
        this.pump(true);
      }, LINGER_MS);
      return;
    }
    clearTimeout(this.linger);
    this.linger = undefined;
    const batch = this.take();
    this.sending = true;
    this.inflightBytes = batch.length;
    this.send(batch).then(
      () => this.sent(),
      (err) => {
        this.failure ??= err;
        this.queued = [];
        this.queuedBytes = 0;
        this.sent();
      },
    );
  }

  private sent(): void {
    this.sending = false;
    this.lastSent = performance.now();
    this.inflightBytes = 0;
    this.pump();
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Up to `unit` queued bytes, as one buffer. */
  private take(): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (this.queued.length > 0 && n < this.unit) {
      const head = this.queued[0]!;
      const part = head.subarray(0, this.unit - n);
      parts.push(part);
      n += part.length;
      if (part.length === head.length) this.queued.shift();
      else this.queued[0] = head.subarray(part.length);
    }
    this.queuedBytes -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}
