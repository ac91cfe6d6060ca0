/**
 * Cuts a byte stream into whole 9P frames. The size prefix is checked
 * against `maxSize` before any byte of the frame is buffered, so a peer
 * claiming a 4 GiB frame is refused at once instead of being waited for.
 */
import { HEADER_SIZE } from './constants.js';
import { NinepFormatError } from './wire.js';

export class Framer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** `maxSize` is the msize; it may be lowered after Tversion. */
  constructor(public maxSize: number) {}

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.buffered;
  }

  /** Feeds bytes; returns every frame they complete. Throws NinepFormatError. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const frames: Buffer[] = [];
    for (let f = this.next(); f !== undefined; f = this.next()) frames.push(f);
    return frames;
  }

  /** Buffers bytes without cutting frames (see next()). */
  append(chunk: Buffer): void {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. One at a
   * time, so a reader that must stop (its replies are backing up) can leave
   * the rest buffered. Throws NinepFormatError.
   */
  next(): Buffer | undefined {
    if (this.buffered < 4) return undefined;
    const size = this.peekSize();
    if (size < HEADER_SIZE) {
      throw new NinepFormatError(`frame size ${size} is smaller than the ${HEADER_SIZE}-byte header`);
    }
    if (size > this.maxSize) {
      throw new NinepFormatError(`frame size ${size} exceeds msize ${this.maxSize}`);
    }
    if (this.buffered < size) return undefined;
    return this.take(size);
  }

  private peekSize(): number {
    const head = this.chunks[0]!;
    if (head.length >= 4) return head.readUInt32LE(0);
    return this.take(4, true).readUInt32LE(0);
  }

  /** The first n buffered bytes; consumed unless `peek`. */
  private take(n: number, peek = false): Buffer {
    const head = this.chunks[0]!;
    let out: Buffer;
    if (head.length >= n) {
      out = head.subarray(0, n);
    } else {
      // Coalesce just enough chunks to cover n bytes.
      out = Buffer.allocUnsafe(n);
      let off = 0;
      for (const c of this.chunks) {
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (off === n) break;
      }
    }
    if (!peek) this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const head = this.chunks[0]!;
      if (head.length <= n) {
        this.chunks.shift();
        n -= head.length;
      } else {
        this.chunks[0] = head.subarray(n);
        n = 0;
      }
    }
  }
}
