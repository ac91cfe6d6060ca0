/**
 * An append-only text in memory that readers read by offset, waiting at
 * the end for more or for its end: a job's `wait` log. Kept as chunks so
 * that appending a line costs the line, not the whole log.
 */
import { park } from '../ns/park.js';

export class TextLog {
  private readonly chunks: Buffer[] = [];
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

  append(text: string): void {
    const b = Buffer.from(text);
    this.starts.push(this.total);
    this.chunks.push(b);
    this.total += b.length;
    this.wake();
  }

  end(): void {
    this.isEnded = true;
    this.wake();
  }

  reopen(): void {
    this.isEnded = false;
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
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const parts: Buffer[] = [];
    let need = Math.min(count, this.total - offset);
    for (let i = lo, at = offset - this.starts[lo]!; need > 0 && i < this.chunks.length; i++, at = 0) {
      const piece = this.chunks[i]!.subarray(at, at + need);
      parts.push(piece);
      need -= piece.length;
    }
    return Buffer.concat(parts);
  }
}
