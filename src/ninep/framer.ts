/**
 * Cuts a byte stream into whole 9P frames. The size prefix is checked
 * against `maxSize` before any byte of the frame is buffered, so a peer
 * claiming a 4 GiB frame is refused at once instead of being waited for.
 *
 * Bytes land in the framer's own memory: a socket made with the `onread`
 * option reads straight into `buffer()` (see `socketOnread`); other streams
 * `push` their chunks, which are copied in. Small frames share a slab and
 * come out as slices of it; a slab is never written again once full, so a
 * frame handed out stays valid. A frame too large for the slab's room gets
 * its own buffer (`alloc`, which may reuse memory) and the rest of its bytes
 * are read into that buffer directly: a 1 MiB Rread costs no copy between
 * the socket and its frame, and no 64 KiB chunks to collect.
 */
import type { OnReadOpts } from 'node:net';
import { HEADER_SIZE } from './constants.js';
import { NinepFormatError } from './wire.js';

/** Slab for small frames and frame heads. */
const SLAB = 64 * 1024;
/** Frames at least this large that do not fit the slab's room get their own buffer. */
const OWN_MIN = 16 * 1024;
/** A slab with less room than this and no unfinished frame is replaced rather than read into. */
const MIN_ROOM = 1024;

export type FrameAlloc = (size: number) => Buffer;

export class Framer {
  private slab = Buffer.allocUnsafeSlow(SLAB);
  /** slab[start, end) is the head of a frame still arriving. */
  private start = 0;
  private end = 0;
  /** A frame being received into its own buffer, `have` bytes of it so far. */
  private own: Buffer | undefined;
  private have = 0;
  /** Whole frames not yet taken, in order, and their bytes. */
  private readonly frames: Buffer[] = [];
  private queued = 0;
  /** The stream is broken here: next() throws once the frames before it are taken. */
  private failure: NinepFormatError | undefined;
  /** Told after bytes arrive through socketOnread: whoever takes the frames. */
  arrived: (() => void) | undefined;

  /**
   * `maxSize` is the msize; it may be lowered after Tversion. `alloc` gives
   * a frame its own buffer (default: a fresh one).
   */
  constructor(
    public maxSize: number,
    private readonly alloc: FrameAlloc = (size) => Buffer.allocUnsafeSlow(size),
  ) {}

  /** Bytes received but not yet handed out as a frame. */
  get pending(): number {
    return this.queued + this.end - this.start + this.have;
  }

  /** Where the next bytes should be read to (never empty); then call filled(). */
  buffer(): Buffer {
    if (this.own !== undefined) return this.own.subarray(this.have);
    const room = this.slab.length - this.end;
    if (room === 0 || (room < MIN_ROOM && this.start === this.end)) this.newSlab();
    return this.slab.subarray(this.end);
  }

  /** `n` bytes were written at the start of the last buffer(). */
  filled(n: number): void {
    if (this.own === undefined) {
      this.end += n;
    } else if ((this.have += n) === this.own.length) {
      this.frames.push(this.own);
      this.queued += this.own.length;
      this.own = undefined;
      this.have = 0;
    }
    this.cut();
  }

  /** Feeds bytes; returns every frame they complete. Throws NinepFormatError. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const frames: Buffer[] = [];
    for (let f = this.next(); f !== undefined; f = this.next()) frames.push(f);
    return frames;
  }

  /** Copies bytes in without handing out frames (see next()). */
  append(chunk: Buffer): void {
    for (let off = 0; off < chunk.length && this.failure === undefined; ) {
      const n = chunk.copy(this.buffer(), 0, off);
      off += n;
      this.filled(n);
    }
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. One at a
   * time, so a reader that must stop (its replies are backing up) can leave
   * the rest buffered. Throws NinepFormatError.
   */
  next(): Buffer | undefined {
    const frame = this.frames.shift();
    if (frame !== undefined) {
      this.queued -= frame.length;
      return frame;
    }
    if (this.failure !== undefined) throw this.failure;
    return undefined;
  }

  /** Cuts whole frames off the slab, and makes room for the one still arriving. */
  private cut(): void {
    while (this.own === undefined && this.failure === undefined && this.end - this.start >= 4) {
      const size = this.slab.readUInt32LE(this.start);
      if (size < HEADER_SIZE) {
        this.failure = new NinepFormatError(`frame size ${size} is smaller than the ${HEADER_SIZE}-byte header`);
      } else if (size > this.maxSize) {
        this.failure = new NinepFormatError(`frame size ${size} exceeds msize ${this.maxSize}`);
      } else if (this.end - this.start >= size) {
        this.frames.push(this.slab.subarray(this.start, this.start + size));
        this.queued += size;
        this.start += size;
      } else if (this.start + size <= this.slab.length) {
        return; // it fits where it is
      } else if (size < OWN_MIN) {
        return this.newSlab();
      } else {
        this.own = this.alloc(size);
        this.have = this.slab.copy(this.own, 0, this.start, this.end);
        this.start = this.end;
      }
    }
  }

  /** A fresh slab, with the unfinished frame's head moved to its start. */
  private newSlab(): void {
    const old = this.slab;
    this.slab = Buffer.allocUnsafeSlow(SLAB);
    this.end = old.copy(this.slab, 0, this.start, this.end);
    this.start = 0;
  }
}

/** The `onread` option of net.connect() that reads a socket straight into `framer`. */
export function socketOnread(framer: Framer): OnReadOpts {
  return {
    buffer: () => framer.buffer(),
    callback: (n: number) => {
      framer.filled(n);
      framer.arrived?.();
      return true;
    },
  };
}
