/** A job's `wait` log: lines kept in memory as they are appended (segment-log.ts). */
import { SegmentLog } from './segment-log.js';

export class TextLog extends SegmentLog {
  private readonly chunks: Buffer[] = [];

  append(text: string): void {
    const b = Buffer.from(text);
    this.chunks.push(b);
    this.grow(b.length);
  }

  protected override copy(index: number, at: number, target: Buffer): number {
    return this.chunks[index]!.copy(target, 0, at);
  }
}
