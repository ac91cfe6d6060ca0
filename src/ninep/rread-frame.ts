/**
 * An Rread built in place: the file reads straight into a frame that has
 * room for the 9P header, which is written in front when the reply goes out,
 * so bulk output is neither copied by pack nor put in a fresh buffer per
 * message. Frames are reused once the socket has taken them: a fresh 1 MiB
 * buffer per message costs page faults (the heap trims and regrows). A
 * client reads large replies into frames from here too (framer.ts), and an
 * Rread that arrived in one has the same shape as the Rread it answers: a
 * node relaying a child's output sends that frame on with a new tag.
 */
import type { RMessage, Untagged } from './messages.js';

/** size[4] type[1] tag[2] count[4] */
export const RREAD_HEADER = 11;
const RREAD_TYPE = 117;
/** Frames kept per size: about as many as a connection's reads ahead in flight. */
const KEEP = 8;

/** Whole allocations by their size. */
const pools = new Map<number, Buffer[]>();
/** Memory this module made: nothing else is ever put in a pool. */
const ours = new WeakSet<ArrayBufferLike>();

/**
 * A buffer of `size` bytes at the start of an allocation of `capacity`
 * (frames of any size up to a connection's msize share one pool), maybe reused.
 */
export function takeFrame(size: number, capacity = size): Buffer {
  let whole = pools.get(capacity)?.pop();
  if (whole === undefined) {
    whole = Buffer.allocUnsafeSlow(capacity);
    ours.add(whole.buffer);
  }
  return size === capacity ? whole : whole.subarray(0, size);
}

/** Whether `frame` came from takeFrame (and may be given back). */
export function isPooled(frame: Buffer): boolean {
  return frame.byteOffset === 0 && ours.has(frame.buffer);
}

/**
 * Back to the pool, once nothing refers to it any more. Memory not from
 * takeFrame, or already given back, is left alone.
 */
export function giveFrame(frame: Buffer): void {
  if (!isPooled(frame)) return;
  const memory = frame.buffer;
  let pool = pools.get(memory.byteLength);
  if (!pool) pools.set(memory.byteLength, (pool = []));
  if (pool.length < KEEP && !pool.some((b) => b.buffer === memory)) pool.push(Buffer.from(memory));
}

export type FramedRread = Untagged<Extract<RMessage, { type: 'Rread' }>> & { frame: Buffer };

/** The reply for `n` bytes read into `frame` at RREAD_HEADER. */
export function framedRread(frame: Buffer, n: number): FramedRread {
  return { type: 'Rread', data: frame.subarray(RREAD_HEADER, RREAD_HEADER + n), frame };
}

export function isFramed(reply: Untagged<RMessage>): reply is FramedRread {
  return reply.type === 'Rread' && 'frame' in reply;
}

/** Writes the header for `tag` and returns the whole message, ready for the socket. */
export function sealFrame(reply: FramedRread, tag: number): Buffer {
  const n = reply.data.length;
  const f = reply.frame;
  f.writeUInt32LE(RREAD_HEADER + n, 0);
  f.writeUInt8(RREAD_TYPE, 4);
  f.writeUInt16LE(tag, 5);
  f.writeUInt32LE(n, 7);
  return f.subarray(0, RREAD_HEADER + n);
}
