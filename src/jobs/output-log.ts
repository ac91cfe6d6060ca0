/**
 * A job's `stdout` or `stderr`: every ended task's output file, in the
 * order the tasks ended, read as one stream. Nothing is copied: the log is
 * a list of (file, length) segments over the per-task files out/ID and
 * err/ID. A task's output that does not end in a newline gets one, so the
 * log holds whole lines. A read past the end waits for the next task or
 * for the job's end.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { FsError } from '../ns/errors.js';
import { park } from '../ns/park.js';

interface Segment {
  path: string;
  start: number;
  /** Bytes of the file. */
  length: number;
  /** One '\n' after the file's bytes. */
  newline: boolean;
}

export class OutputLog {
  private readonly segments: Segment[] = [];
  private total = 0;
  private isEnded = false;
  private readonly waiters = new Set<() => void>();

  get length(): number {
    return this.total;
  }

  /** A task's output file of `length` bytes whose last byte is `lastByte`. */
  add(path: string, length: number, lastByte: number | undefined): void {
    if (length === 0) return;
    const newline = lastByte !== 0x0a;
    this.segments.push({ path, start: this.total, length, newline });
    this.total += length + (newline ? 1 : 0);
    this.wake();
  }

  end(): void {
    this.isEnded = true;
    this.wake();
  }

  /** Opened again: a job that went on after it was complete (more tasks after a restart). */
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
    const out = Buffer.alloc(Math.min(count, this.total - offset));
    let got = 0;
    let i = this.find(offset);
    while (got < out.length && i < this.segments.length) {
      const seg = this.segments[i]!;
      const at = offset + got - seg.start;
      if (at < seg.length) got += readFile(seg.path, out, got, Math.min(out.length - got, seg.length - at), at);
      else {
        out[got++] = 0x0a;
        i++;
      }
      if (at < seg.length && offset + got - seg.start >= seg.length && !seg.newline) i++;
    }
    return out.subarray(0, got);
  }

  /** The segment holding byte `offset`. */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function readFile(path: string, target: Buffer, at: number, n: number, position: number): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FsError('EIO', `output ${path}: ${(err as Error).message}`);
  }
  try {
    let got = 0;
    while (got < n) {
      const r = readSync(fd, target, at + got, n - got, position + got);
      if (r === 0) break;
      got += r;
    }
    if (got < n) target.fill(0x0a, at + got, at + n); // a file cut short under us: keep lines whole
    return n;
  } finally {
    closeSync(fd);
  }
}
