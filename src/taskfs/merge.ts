/**
 * Many children's output as one stream: whole lines interleaved by arrival.
 * A child's partial line waits for its newline (or its EOF) so another
 * child's bytes never split it. EOF once every child is at EOF.
 *
 * Each source is pumped by its own loop into a bounded buffer; the reader
 * takes from the buffer by offset. A read that is aborted while waiting
 * consumes nothing, so an EINTR retry at the same offset gets the bytes.
 */
import { FsError } from '../ns/errors.js';
import { park, wakeAll } from '../ns/park.js';
import type { OpenFile } from '../ns/types.js';

export interface MergeOptions {
  /** Bytes asked of a source per read. */
  chunkBytes?: number;
  /** Pumps pause while this much is buffered and unread. */
  bufferBytes?: number;
  /** A "line" longer than this is passed on unsplit-by-newline: memory stays bounded. */
  maxLineBytes?: number;
}

export function mergeLines(sources: OpenFile[], opts: MergeOptions = {}): OpenFile {
  if (sources.length === 1) return sources[0]!; // nothing to interleave
  return new LineMerger(sources, opts);
}

class LineMerger implements OpenFile {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /** Stream offset of chunks[0][0]. */
  private base = 0;
  private running: number;
  private failure?: FsError;
  private readonly stop = new AbortController();
  private readonly readers = new Set<() => void>();
  private readonly pumpWaiters = new Set<() => void>();
  private readonly chunkBytes: number;
  private readonly bufferBytes: number;
  private readonly maxLineBytes: number;

  constructor(
    private readonly sources: OpenFile[],
    opts: MergeOptions,
  ) {
    this.chunkBytes = opts.chunkBytes ?? 128 * 1024;
    this.bufferBytes = opts.bufferBytes ?? 1024 * 1024;
    this.maxLineBytes = opts.maxLineBytes ?? 1024 * 1024;
    this.running = sources.length;
    for (const s of sources) void this.pump(s);
  }

  private async pump(source: OpenFile): Promise<void> {
    let offset = 0;
    let partial: Buffer[] = [];
    let partialBytes = 0;
    try {
      for (;;) {
        while (this.buffered >= this.bufferBytes && !this.stop.signal.aborted) {
          await park(this.pumpWaiters, (wake) => wake);
        }
        if (this.stop.signal.aborted) return;
        const data = await source.read(offset, this.chunkBytes, this.stop.signal);
        if (data.length === 0) break;
        offset += data.length;
        const nl = data.lastIndexOf(10);
        if (nl < 0) {
          partial.push(data);
          partialBytes += data.length;
          if (partialBytes >= this.maxLineBytes) {
            this.push(Buffer.concat(partial));
            partial = [];
            partialBytes = 0;
          }
          continue;
        }
        partial.push(data.subarray(0, nl + 1));
        this.push(partial.length === 1 ? partial[0]! : Buffer.concat(partial));
        partial = nl + 1 < data.length ? [data.subarray(nl + 1)] : [];
        partialBytes = data.length - nl - 1;
      }
      if (partialBytes > 0) this.push(Buffer.concat(partial));
    } catch (err) {
      if (!this.stop.signal.aborted) this.failure ??= err instanceof FsError ? err : new FsError('EIO', String(err));
    } finally {
      this.running--;
      this.wake();
    }
  }

  private push(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    this.wake();
  }

  private wake(): void {
    wakeAll(this.readers);
  }

  private discardBefore(offset: number): void {
    while (this.chunks.length > 0 && this.base + this.chunks[0]!.length <= offset) {
      const c = this.chunks.shift()!;
      this.base += c.length;
      this.buffered -= c.length;
    }
    if (this.chunks.length > 0 && offset > this.base) {
      const cut = offset - this.base;
      this.chunks[0] = this.chunks[0]!.subarray(cut);
      this.base = offset;
      this.buffered -= cut;
    }
    if (this.buffered < this.bufferBytes) {
      wakeAll(this.pumpWaiters);
    }
  }

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    if (offset < this.base) throw new FsError('EINVAL', 'merged output cannot be read backwards');
    for (;;) {
      this.discardBefore(offset);
      if (this.buffered > 0 && offset < this.base + this.buffered) return this.take(offset, count);
      if (this.failure) throw this.failure;
      if (this.running === 0) return Buffer.alloc(0);
      await park(this.readers, (wake) => wake, signal);
    }
  }

  private take(offset: number, count: number): Buffer {
    // The reader may come back for the same offset (EINTR retry, short
    // copy), so nothing is dropped until a read asks past it.
    const first = this.chunks[0]!.subarray(offset - this.base);
    if (first.length >= count || this.chunks.length === 1) return first.subarray(0, count);
    const parts: Buffer[] = [first];
    let n = first.length;
    for (let i = 1; i < this.chunks.length && n < count; i++) {
      const c = this.chunks[i]!.subarray(0, count - n);
      parts.push(c);
      n += c.length;
    }
    return Buffer.concat(parts, n);
  }

  async write(): Promise<number> {
    throw new FsError('EACCES', 'permission denied: read only');
  }

  async close(): Promise<void> {
    this.stop.abort();
    wakeAll(this.pumpWaiters);
    await Promise.allSettled(this.sources.map((s) => s.close()));
  }
}
