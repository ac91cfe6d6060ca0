/**
 * An Rread built in place: the file reads straight into a frame that has
 * room for the 9P header, which is written in front when the reply goes out,
 * so bulk output is neither copied by pack nor put in a fresh buffer per
 * message. Frames are reused once the socket has taken them: a fresh 1 MiB
 * buffer per message costs page faults (the heap trims and regrows).
 */
import type { RMessage, Untagged } from './messages.js';

/** size[4] type[1] tag[2] count[4] */
export const RREAD_HEADER = 11;
const RREAD_TYPE = 117;
/** Frames kept per size: about as many as a connection's reads ahead in flight. */
const KEEP = 8;

const pools = new Map<number, Buffer[]>();

/** A frame for `count` bytes of data, maybe reused. */
export function takeFrame(count: number): Buffer {
  return pools.get(count)?.pop() ?? Buffer.allocUnsafeSlow(RREAD_HEADER + count);
}

/** Back to the pool, once nothing refers to it any more. */
export function giveFrame(frame: Buffer): void {
  const count = frame.length - RREAD_HEADER;
  let pool = pools.get(count);
  if (!pool) pools.set(count, (pool = []));
  if (pool.length < KEEP) pool.push(frame);
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
