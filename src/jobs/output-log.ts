/**
 * A job's `stdout` or `stderr`: every ended task's output file, in the
 * order the tasks ended, read as one stream (segment-log.ts). Nothing is
 * copied: a segment is a per-task file (out/ID, errout/ID) and its length.
 * A task's output that does not end in a newline gets one, so the log
 * holds whole lines.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { FsError } from '../ns/errors.js';
import { SegmentLog } from './segment-log.js';

interface Segment {
  path: string;
  /** Bytes of the file. */
  length: number;
  /** One '\n' after the file's bytes. */
  newline: boolean;
}

export class OutputLog extends SegmentLog {
  private readonly segments: Segment[] = [];

  /** A task's output file of `length` bytes whose last byte is `lastByte`. */
  add(path: string, length: number, lastByte: number | undefined): void {
    if (length === 0) return;
    const newline = lastByte !== 0x0a;
    this.segments.push({ path, length, newline });
    this.grow(length + (newline ? 1 : 0));
  }

  protected override copy(index: number, at: number, target: Buffer): number {
    const seg = this.segments[index]!;
    const fromFile = Math.max(0, Math.min(target.length, seg.length - at));
    if (fromFile > 0) readFile(seg.path, target, fromFile, at);
    if (seg.newline && fromFile < target.length && at + fromFile === seg.length) {
      target[fromFile] = 0x0a;
      return fromFile + 1;
    }
    return fromFile;
  }
}

function readFile(path: string, target: Buffer, n: number, position: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FsError('EIO', `output ${path}: ${(err as Error).message}`);
  }
  try {
    let got = 0;
    while (got < n) {
      const r = readSync(fd, target, got, n - got, position + got);
      if (r === 0) break;
      got += r;
    }
    if (got < n) target.fill(0x0a, got, n); // a file cut short under us: keep lines whole
  } finally {
    closeSync(fd);
  }
}
