/**
 * Spool: an append-only byte stream that every reader reads from its start.
 *
 * Process output is spooled, not piped: any number of readers read by
 * offset, independently, at any time, even long after the writer has
 * finished. A read past the end waits for more bytes or for the end.
 *
 *   FileSpool    a leaf's stdout or stderr: the process server splices it
 *                into a file and tells us how long the file is; we read the
 *                file. The daemon holds none of it, whatever the volume.
 *   MemorySpool  the few bytes we write ourselves (a run's wait line).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import createDebug from 'debug';
import { park, wakeAll } from '../ns/park.js';
import { FsError } from '../ns/errors.js';

const log = createDebug('taskfs:exec');

const EMPTY = Buffer.alloc(0);

/** A parked reader: called to wake it; it reads at `offset`. */
type Waiter = (() => void) & { readonly offset: number };

export abstract class Spool {
  private total = 0;
  private isEnded = false;
  protected disposed = false;
  private readonly waiters = new Set<Waiter>();

  get length(): number {
    return this.total;
  }
  get ended(): boolean {
    return this.isEnded;
  }

  /** No more bytes will come. Idempotent. */
  end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    wakeAll(this.waiters);
  }

  /** Resolves when length > offset or the spool has ended. Rejects EINTR when `signal` aborts first. */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    checkRange(offset, 0);
    if (offset < this.total || this.isEnded) return Promise.resolve();
    return park(this.waiters, (wake): Waiter => Object.assign(wake, { offset }), signal);
  }

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    const n = await this.available(offset, count, signal);
    if (n === 0) return EMPTY;
    const buf = Buffer.allocUnsafe(n);
    this.copyOut(buf, offset, n);
    return buf;
  }

  /** As read, into `target`: no buffer of our own in between. */
  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    const n = await this.available(offset, target.length, signal);
    if (n > 0) this.copyOut(target, offset, n);
    return n;
  }

  /** Ends the spool, wakes every reader and forgets the bytes. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.end();
  }

  /** The spool now holds `total` bytes. */
  protected grown(total: number): void {
    if (total <= this.total) return;
    this.total = total;
    if (this.waiters.size === 0) return;
    for (const w of this.waiters) {
      if (w.offset < total) {
        this.waiters.delete(w);
        w();
      }
    }
  }

  /** Copy bytes [offset, offset + n), all present, to target[0..n). */
  protected abstract copyOut(target: Buffer, offset: number, n: number): void;

  /** How many of `count` bytes from `offset` a read returns, once there are any (0: the end). */
  private async available(offset: number, count: number, signal?: AbortSignal): Promise<number> {
    checkRange(offset, count);
    if (count === 0 || this.disposed) return 0;
    if (offset >= this.total) {
      if (this.isEnded) return 0;
      await this.waitFor(offset, signal);
      if (this.disposed || offset >= this.total) return 0;
    }
    return Math.min(count, this.total - offset);
  }
}

/**
 * Output in a file another process writes (and makes, with the first byte). Reads are synchronous preads:
 * the bytes were just written, so they come from the page cache in
 * microseconds, straight into the reader's buffer (a FUSE reply); a round
 * trip through the thread pool would cost more than the copy.
 */
export class FileSpool extends Spool {
  private fd = -1;

  constructor(readonly path: string) {
    super();
  }

  /** The writer says the file now holds `length` bytes. */
  advance(length: number): void {
    if (!this.disposed) this.grown(length);
  }

  protected override copyOut(target: Buffer, offset: number, n: number): void {
    try {
      if (this.fd < 0) this.fd = openSync(this.path, 'r');
      for (let got = 0; got < n; ) {
        const r = readSync(this.fd, target, got, n - got, offset + got);
        if (r === 0) throw new FsError('EIO', 'spool: the file is shorter than its output');
        got += r;
      }
    } catch (err) {
      log('spool %s: read: %O', this.path, err);
      throw err instanceof FsError ? err : new FsError('EIO', `spool read: ${(err as Error).message}`);
    }
  }

  override async dispose(): Promise<void> {
    if (this.disposed) return;
    await super.dispose();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    // The server makes the file with the first byte: no bytes, no file (but
    // one made just before a disk error stalled it stays, empty, until the
    // node removes its spool directory at stop).
    if (this.length === 0) return;
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') log('spool %s: unlink: %O', this.path, err);
    });
  }
}

/** A few bytes held in memory. */
export class MemorySpool extends Spool {
  private data = EMPTY;

  append(chunk: Buffer): void {
    if (this.disposed) return;
    if (this.ended) throw new FsError('EINVAL', 'spool: append after end');
    this.data = Buffer.concat([this.data, chunk]);
    this.grown(this.data.length);
  }

  protected override copyOut(target: Buffer, offset: number, n: number): void {
    this.data.copy(target, 0, offset, offset + n);
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    this.data = EMPTY;
  }
}

function checkRange(offset: number, count: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError('EINVAL', `bad offset ${offset}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new FsError('EINVAL', `bad count ${count}`);
}
