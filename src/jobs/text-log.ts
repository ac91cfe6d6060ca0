/**
 * A job's `wait` log: lines kept in memory as they are appended (segment-log.ts).
 * Lines are kept as strings, not Buffers: a small Buffer is a slice of an
 * 8 KiB pool slab and keeps the whole slab alive, so 10,000 queued tasks'
 * lines pinned over 50 MB (README "Performance").
 */
import { SegmentLog } from './segment-log.js';

export class TextLog extends SegmentLog {
  private readonly lines: string[] = [];

  append(text: string): void {
    this.lines.push(text);
    this.grow(Buffer.byteLength(text));
  }

  protected override copy(index: number, at: number, target: Buffer): number {
    return Buffer.from(this.lines[index]!).copy(target, 0, at);
  }
}
