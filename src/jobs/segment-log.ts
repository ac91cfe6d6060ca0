/**
 * An append-only stream made of segments, read by offset, a read past the
 * end waiting for more or for the end: the base of a job's wait log
 * (text-log.ts) and of its stdout and stderr (output-log.ts). Appending a
 * segment costs the segment, not the log.
 */
import { park } from '../ns/park.js';

export abstract class SegmentLog {
  /** Where each segment starts in the stream. */
  private readonly starts: number[] = [];
  private total = 0;
  private isEnded = false;
  private readonly waiters = new Set<() => void>();

  get length(): number {
    return this.total;
  }

  get ended(): boolean {
    return this.isEnded;
  }

  /** A segment of `length` bytes was added (as segment number starts.length). */
  protected grow(length: number): void {
    this.starts.push(this.total);
    this.total += length;
    this.wake();
  }

  end(): void {
    this.isEnded = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    while (offset >= this.total) {
      if (this.isEnded || count === 0) return Buffer.alloc(0);
      await park(this.waiters, (wake) => wake, signal);
    }
    const out = Buffer.alloc(Math.min(count, this.total - offset));
    for (let i = this.find(offset), got = 0; got < out.length; i++) {
      got += this.copy(i, offset + got - this.starts[i]!, out.subarray(got));
    }
    return out;
  }

  /** Copies segment `index` from byte `at` into `target`, as much as fits: how many bytes. */
  protected abstract copy(index: number, at: number, target: Buffer): number;

  /** The segment holding byte `offset`. */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
