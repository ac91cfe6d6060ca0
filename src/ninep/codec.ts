/**
 * Whole 9P2000 messages to and from bytes, driven by the layout table in
 * messages.ts. A frame is size[4] type[1] tag[2] followed by the fields;
 * size counts itself.
 */
import { HEADER_SIZE } from './constants.js';
import type { Message, MessageName, Stat } from './messages.js';
import { layouts, messageName } from './messages.js';
import {
  NinepFormatError,
  Reader,
  fieldSize,
  layoutSize,
  readLayout,
  readStatEntry,
  statEntrySize,
  writeLayout,
  writeStatEntry,
} from './wire.js';

export { NinepFormatError } from './wire.js';

/** Encodes a message; throws NinepFormatError for a value that does not fit its field. */
export function pack(msg: Message): Buffer {
  const layout = layouts[msg.type as MessageName];
  if (layout === undefined) throw new NinepFormatError(`cannot pack unknown type ${String(msg.type)}`);
  const fields = msg as unknown as Record<string, unknown>;
  fieldSize('u16', msg.tag, `${msg.type}.tag`);
  const size = HEADER_SIZE + layoutSize(layout.fields, fields, msg.type);
  if (size > 0xffffffff) throw new NinepFormatError(`cannot pack ${msg.type}: ${size} bytes`);
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(size, 0);
  buf.writeUInt8(layout.id, 4);
  buf.writeUInt16LE(msg.tag, 5);
  const end = writeLayout(buf, HEADER_SIZE, layout.fields, fields);
  if (end !== size) throw new Error(`pack ${msg.type}: wrote ${end} of ${size} bytes`);
  return buf;
}

/**
 * Decodes exactly one frame. `maxSize` is the negotiated msize: a peer may
 * not send more, whatever the size field claims.
 */
export function unpack(frame: Buffer, maxSize = 0xffffffff): Message {
  if (frame.length < HEADER_SIZE) {
    throw new NinepFormatError(`frame of ${frame.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  }
  const size = frame.readUInt32LE(0);
  if (size !== frame.length) {
    throw new NinepFormatError(`size field says ${size} but the frame has ${frame.length} bytes`);
  }
  if (size > maxSize) throw new NinepFormatError(`frame of ${size} bytes exceeds msize ${maxSize}`);
  const id = frame.readUInt8(4);
  const type = messageName(id);
  if (type === undefined) throw new NinepFormatError(`unknown message type ${id}`);
  const r = new Reader(frame, HEADER_SIZE, size);
  const fields = readLayout(r, layouts[type].fields, type);
  if (r.left !== 0) throw new NinepFormatError(`${type}: ${r.left} trailing bytes`);
  return { type, tag: frame.readUInt16LE(5), ...fields } as Message;
}

/** One stat entry as it appears in a directory read (with its size[2]). */
export function packStat(st: Stat): Buffer {
  const buf = Buffer.allocUnsafe(statEntrySize(st, 'stat'));
  writeStatEntry(buf, 0, st);
  return buf;
}

/** The stat entries of a directory read; every entry must be whole. */
export function unpackStats(data: Buffer): Stat[] {
  const r = new Reader(data, 0, data.length);
  const out: Stat[] = [];
  while (r.left > 0) out.push(readStatEntry(r, `entry ${out.length}`));
  return out;
}
