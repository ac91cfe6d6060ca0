/**
 * Spool: an append-only byte stream that every reader reads from its start.
 *
 * Process output is spooled, not piped: any number of readers read by offset,
 * independently, at any time, even long after the writer has finished. Memory
 * stays bounded whatever the volume:
 *
 *   [0, headLen)            the head: the first `memoryBytes`, kept in memory
 *                           (small outputs, the usual case, never touch disk)
 *   [headLen, diskEnd)      on disk, in the spool file, at position (offset - headLen)
 *   [diskEnd, length)       pending: copied into memory blocks, queued for disk
 *
 * Pending bytes are bounded by back-pressure: append() returns false once more
 * than `highWaterBytes` wait for the disk, and the writer pauses until drained().
 * The spool file is created lazily, when output first outgrows the head, and is
 * written by one loop at a time (serialized, positional writev, async fs only).
 * Stored bytes are never mutated after they are appended, so reads may return
 * slices of them without copying.
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import createDebug from 'debug';
import { park } from '../ns/park.js';
import { FsError } from '../ns/errors.js';

const log = createDebug('taskfs:exec');

export interface SpoolOptions { dir: string; name: string; memoryBytes?: number; highWaterBytes?: number }

const DEFAULT_MEMORY = 1 << 20;
const DEFAULT_HIGH_WATER = 4 << 20;
/** Pending bytes are copied into blocks of this size, so tiny appends do not cost one Buffer each. */
const BLOCK = 64 << 10;
/** An owned chunk at least this large becomes a block as it is, uncopied. */
const OWN_MIN = 16 << 10;
/**
 * Bytes already on disk kept in memory too, the most recent ones: a reader
 * that keeps up with the writer is served from here, never from the file.
 */
const RECENT_BYTES = 4 << 20;
/** Upper bound of one writev: bytes and buffers (IOV_MAX is 1024 on Linux). */
const WRITE_MAX_BYTES = 4 << 20;
const WRITE_MAX_IOV = 512;
/** Delay before retrying after a disk error (ENOSPC, EMFILE...): the writer stays paused meanwhile. */
const RETRY_MS = 1000;

const EMPTY = Buffer.alloc(0);

/** A run of pending bytes: data[0, len) holds bytes [start, start + len). Only data[len..] is ever written to. */
interface Block { start: number; data: Buffer; len: number }

interface Waiter { offset: number; resolve: () => void }

export class Spool {
  private readonly path: string;
  private readonly dir: string;
  private readonly memoryBytes: number;
  private readonly highWater: number;

  private total = 0;
  private isEnded = false;
  private disposed = false;

  /** The head, grown by doubling up to memoryBytes; bytes below headLen are never rewritten. */
  private head: Buffer = EMPTY;
  private headLen = 0;

  /** Pending blocks in offset order; blocks[blockFirst] is the oldest. */
  private blocks: Block[] = [];
  private blockFirst = 0;
  /** Bytes [headLen, diskEnd) are on disk (their write has completed). */
  private diskEnd = 0;
  /** The latest blocks written to disk, in order, ending at diskEnd: a read cache. */
  private recent: Block[] = [];
  private recentBytes = 0;

  private fh: FileHandle | undefined;
  private flushing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  private readonly waiters = new Set<Waiter>();
  private drainers: Array<() => void> = [];

  constructor(opts: SpoolOptions) {
    this.dir = opts.dir;
    this.path = join(opts.dir, opts.name);
    this.memoryBytes = Math.max(0, Math.floor(opts.memoryBytes ?? DEFAULT_MEMORY));
    this.highWater = Math.max(1, Math.floor(opts.highWaterBytes ?? DEFAULT_HIGH_WATER));
  }

  get length(): number { return this.total; }
  get ended(): boolean { return this.isEnded; }

  /** Bytes appended but not yet on disk. */
  private get pendingBytes(): number {
    return this.total - Math.max(this.diskEnd, this.headLen);
  }

  /**
   * Append bytes. Returns false when the writer should pause until drained().
   * Never drops data. After dispose() it is a no-op (nobody can read any
   * more); after end() it is a programming error. The bytes are copied unless
   * `owned`: then the caller hands `chunk` over and never touches it again
   * (a socket's fresh read buffer), which saves a copy of bulk output.
   */
  append(chunk: Buffer, owned = false): boolean {
    if (this.disposed) return true;
    if (this.isEnded) throw new FsError('EINVAL', 'spool: append after end');
    let src = chunk;
    if (src.length === 0) return this.pendingBytes <= this.highWater;

    // Fill the head first.
    if (this.headLen < this.memoryBytes) {
      const n = Math.min(src.length, this.memoryBytes - this.headLen);
      if (this.headLen + n > this.head.length) {
        let cap = Math.max(this.head.length * 2, 4096);
        while (cap < this.headLen + n) cap *= 2;
        const grown = Buffer.allocUnsafe(Math.min(cap, this.memoryBytes));
        // Copy into a new buffer: slices handed out of the old one stay valid and unchanged.
        this.head.copy(grown, 0, 0, this.headLen);
        this.head = grown;
      }
      src.copy(this.head, this.headLen, 0, n);
      this.headLen += n;
      this.total += n;
      src = src.subarray(n);
      if (this.diskEnd < this.headLen) this.diskEnd = this.headLen;
    }

    // The rest is queued for disk: a large owned chunk as a block of its own,
    // anything else packed into blocks.
    if (owned && src.length >= OWN_MIN) {
      this.blocks.push({ start: this.total, data: src, len: src.length });
      this.total += src.length;
      src = EMPTY;
      this.kickFlush();
    }
    if (src.length > 0) {
      const last = this.blocks.length > this.blockFirst ? this.blocks[this.blocks.length - 1] : undefined;
      if (last && last.len < last.data.length) {
        const n = Math.min(src.length, last.data.length - last.len);
        src.copy(last.data, last.len, 0, n);
        last.len += n;
        this.total += n;
        src = src.subarray(n);
      }
      while (src.length > 0) {
        const size = Math.max(BLOCK, src.length >= BLOCK ? src.length : 0);
        const data = Buffer.allocUnsafe(size);
        const n = Math.min(src.length, size);
        src.copy(data, 0, 0, n);
        this.blocks.push({ start: this.total, data, len: n });
        this.total += n;
        src = src.subarray(n);
      }
      this.kickFlush();
    }

    this.wake();
    return this.pendingBytes <= this.highWater;
  }

  /** Resolves when the writer may go on: pending bytes fell to half the high-water mark (or the spool is disposed). */
  drained(): Promise<void> {
    if (this.disposed || this.pendingBytes <= this.highWater / 2) return Promise.resolve();
    return new Promise((resolve) => { this.drainers.push(resolve); });
  }

  /** No more bytes will come. Idempotent. */
  end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.wakeAll();
  }

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    checkRange(offset, count);
    if (count === 0 || this.disposed) return EMPTY;
    if (offset >= this.total) {
      if (this.isEnded) return EMPTY;
      await this.waitFor(offset, signal);
      if (this.disposed || offset >= this.total) return EMPTY;
    }
    return this.copyOut(offset, Math.min(count, this.total - offset));
  }

  /** As read, into `target`: memory parts are copied straight in, disk parts read straight in. */
  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    checkRange(offset, target.length);
    if (target.length === 0 || this.disposed) return 0;
    if (offset >= this.total) {
      if (this.isEnded) return 0;
      await this.waitFor(offset, signal);
      if (this.disposed || offset >= this.total) return 0;
    }
    const n = Math.min(target.length, this.total - offset);
    const end = offset + n;
    let pos = offset;
    let at = 0;
    const put = (b: Buffer) => {
      at += b.copy(target, at);
    };
    if (pos < this.headLen) {
      const stop = Math.min(end, this.headLen);
      put(this.head.subarray(pos, stop));
      pos = stop;
    }
    if (pos < end && pos < this.diskEnd) {
      const to = Math.min(end, this.diskEnd);
      const cached: Buffer[] = [];
      if (this.recentSlices(pos, to, cached)) cached.forEach(put);
      else {
        // Snapshot the pending part first: once on disk its blocks may go.
        const later: Buffer[] = [];
        if (to < end) this.pendingSlices(to, end, later);
        const got = await this.readDiskInto(target, at, pos, to);
        if (this.disposed) return 0;
        at += got;
        later.forEach(put);
        return at;
      }
      pos = to;
    }
    if (pos < end) {
      const rest: Buffer[] = [];
      this.pendingSlices(pos, end, rest);
      rest.forEach(put);
    }
    return at;
  }

  /** Resolves when length > offset or the spool has ended. Rejects EINTR when `signal` aborts first. */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    checkRange(offset, 0);
    if (offset < this.total || this.isEnded) return Promise.resolve();
    return park(this.waiters, (resolve): Waiter => ({ offset, resolve }), signal);
  }

  /** Ends, wakes every waiting reader and writer, waits for the disk writer, deletes the spool file. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.end();
    this.wakeDrainers(true);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.blocks = [];
    this.blockFirst = 0;
    this.recent = [];
    this.recentBytes = 0;
    this.head = EMPTY;
    await this.flushing;
    const fh = this.fh;
    this.fh = undefined;
    if (fh) {
      await fh.close().catch((err: unknown) => log('spool %s: close: %O', this.path, err));
      await unlink(this.path).catch((err: unknown) => log('spool %s: unlink: %O', this.path, err));
    }
  }

  // ---- reading ----

  /** Bytes [offset, offset + n), all of which have been appended. Memory parts never touch disk. */
  private async copyOut(offset: number, n: number): Promise<Buffer> {
    const end = offset + n;
    const parts: Buffer[] = [];
    let pos = offset;
    if (pos < this.headLen) {
      const stop = Math.min(end, this.headLen);
      parts.push(this.head.subarray(pos, stop));
      pos = stop;
    }
    // Snapshot the pending part synchronously: once on disk its blocks may be dropped.
    let diskFrom = -1;
    let diskTo = -1;
    if (pos < end && pos < this.diskEnd) {
      const to = Math.min(end, this.diskEnd);
      const cached: Buffer[] = [];
      if (this.recentSlices(pos, to, cached)) parts.push(...cached);
      else {
        diskFrom = pos;
        diskTo = to;
      }
      pos = to;
    }
    const tail: Buffer[] = [];
    if (pos < end) this.pendingSlices(pos, end, tail);
    if (diskFrom >= 0) parts.push(await this.readDisk(diskFrom, diskTo));
    if (this.disposed) return EMPTY;
    for (const t of tail) parts.push(t);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Keep a block just written to disk among the recent ones, forgetting the oldest past the budget. */
  private remember(b: Block): void {
    this.recent.push(b);
    this.recentBytes += b.len;
    while (this.recent.length > 1 && this.recentBytes - this.recent[0].len >= RECENT_BYTES) {
      this.recentBytes -= this.recent.shift()!.len;
    }
  }

  /** Slices of [from, to) from the recent blocks, if they hold all of it. */
  private recentSlices(from: number, to: number, out: Buffer[]): boolean {
    const first = this.recent[0];
    if (!first || from < first.start) return false;
    let pos = from;
    for (const b of this.recent) {
      if (pos >= to) break;
      if (b.start + b.len <= pos) continue;
      const stop = Math.min(to, b.start + b.len);
      out.push(b.data.subarray(pos - b.start, stop - b.start));
      pos = stop;
    }
    return pos >= to;
  }

  private pendingSlices(from: number, to: number, out: Buffer[]): void {
    // Binary search for the block holding `from`.
    let lo = this.blockFirst;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid].start <= from) lo = mid; else hi = mid - 1;
    }
    let pos = from;
    for (let i = lo; i < this.blocks.length && pos < to; i++) {
      const b = this.blocks[i];
      const stop = Math.min(to, b.start + b.len);
      out.push(b.data.subarray(pos - b.start, stop - b.start));
      pos = stop;
    }
    if (pos < to) throw new FsError('EIO', 'spool: pending bytes missing'); // cannot happen: invariant broken
  }

  private async readDiskInto(target: Buffer, at: number, from: number, to: number): Promise<number> {
    const fh = this.fh;
    if (!fh) {
      if (this.disposed) return 0;
      throw new FsError('EIO', 'spool: file missing');
    }
    let got = 0;
    try {
      while (got < to - from) {
        const { bytesRead } = await fh.read(target, at + got, to - from - got, from - this.headLen + got);
        if (bytesRead === 0) throw new FsError('EIO', 'spool: short file');
        got += bytesRead;
      }
    } catch (err) {
      if (this.disposed) return 0;
      log('spool %s: read: %O', this.path, err);
      throw err instanceof FsError ? err : new FsError('EIO', `spool read: ${(err as Error).message}`);
    }
    return got;
  }

  private async readDisk(from: number, to: number): Promise<Buffer> {
    const fh = this.fh;
    if (!fh) {
      if (this.disposed) return EMPTY;
      throw new FsError('EIO', 'spool: file missing');   // cannot happen: diskEnd moved without a file
    }
    const buf = Buffer.allocUnsafe(to - from);
    let got = 0;
    try {
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, from - this.headLen + got);
        if (bytesRead === 0) throw new FsError('EIO', 'spool: short file');
        got += bytesRead;
      }
    } catch (err) {
      if (this.disposed) return EMPTY;
      log('spool %s: read: %O', this.path, err);
      throw err instanceof FsError ? err : new FsError('EIO', `spool read: ${(err as Error).message}`);
    }
    return buf;
  }

  // ---- writing to disk ----

  private kickFlush(): void {
    if (this.flushing || this.retryTimer || this.disposed) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Bytes appended between the loop's last check and now (e.g. by a writer woken
      // from drained() in a microtask) would otherwise wait for the next append.
      if (this.pendingBytes > 0) this.kickFlush();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (!this.disposed && this.blockFirst < this.blocks.length) {
        if (!this.fh) {
          await mkdir(this.dir, { recursive: true });
          if (this.disposed) return;
          this.fh = await open(this.path, 'w+', 0o600);   // dispose() awaits this loop, then closes it
          log('spool %s: created', this.path);
          if (this.disposed) return;
        }
        // Gather the oldest pending bytes, from diskEnd on.
        const iov: Buffer[] = [];
        let bytes = 0;
        for (let i = this.blockFirst; i < this.blocks.length && iov.length < WRITE_MAX_IOV && bytes < WRITE_MAX_BYTES; i++) {
          const b = this.blocks[i];
          const skip = Math.max(0, this.diskEnd - b.start);
          const piece = b.data.subarray(skip, b.len);
          if (piece.length === 0) continue;
          iov.push(piece);
          bytes += piece.length;
        }
        if (bytes === 0) break;
        const { bytesWritten } = await this.fh.writev(iov, this.diskEnd - this.headLen);
        if (this.disposed) return;
        if (bytesWritten <= 0) throw new FsError('EIO', 'spool: write made no progress');
        this.diskEnd += bytesWritten;
        // Drop blocks that are wholly on disk and no longer being filled.
        while (this.blockFirst < this.blocks.length) {
          const b = this.blocks[this.blockFirst];
          if (b.start + b.len > this.diskEnd || (b.len < b.data.length && this.blockFirst === this.blocks.length - 1)) break;
          this.blocks[this.blockFirst++] = undefined as unknown as Block;
          this.remember(b);
        }
        if (this.blockFirst > 64 && this.blockFirst * 2 > this.blocks.length) {
          this.blocks = this.blocks.slice(this.blockFirst);
          this.blockFirst = 0;
        }
        this.wakeDrainers(false);
      }
    } catch (err) {
      if (this.disposed) return;
      // Keep the data in memory, keep the writer paused, and try again later.
      log('spool %s: write failed, retrying in %dms: %O', this.path, RETRY_MS, err);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kickFlush();
      }, RETRY_MS);
      this.retryTimer.unref();
    }
  }

  // ---- waking ----

  private wake(): void {
    if (this.waiters.size === 0) return;
    for (const w of this.waiters) {
      if (w.offset < this.total) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private wakeAll(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w.resolve();
  }

  private wakeDrainers(force: boolean): void {
    if (this.drainers.length === 0) return;
    if (!force && this.pendingBytes > this.highWater / 2) return;
    const d = this.drainers;
    this.drainers = [];
    for (const r of d) r();
  }
}

function checkRange(offset: number, count: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError('EINVAL', `bad offset ${offset}`);
  if (!Number.isSafeInteger(count) || count < 0) throw new FsError('EINVAL', `bad count ${count}`);
}
