/**
 * Encoding of the individual field kinds (see FieldKind in messages.ts).
 * Reading is bounds-checked against the enclosing frame before anything is
 * decoded or allocated, so a hostile length can only ever produce a
 * NinepFormatError. Writing validates the value first, because a value
 * that does not fit would silently corrupt the frame.
 */
import type { Qid } from '../ns/types.js';
import { MAXWELEM, U64_MAX } from './constants.js';
import type { FieldKind, FieldValues, Layout, Stat } from './messages.js';
import { statLayout } from './messages.js';

/** Anything wrong with bytes on the wire (or a value that cannot be packed). */
export class NinepFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NinepFormatError';
  }
}

// ignoreBOM keeps a leading U+FEFF, so decoding then encoding gives back the same bytes.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A cursor over buf[pos, end) that refuses to step outside it. */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n > this.left) {
      throw new NinepFormatError(`${what}: needs ${n} bytes, only ${this.left} left`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(what: string): string {
    const n = this.u16(`${what} length`);
    const b = this.bytes(n, what);
    try {
      return utf8.decode(b);
    } catch {
      throw new NinepFormatError(`${what}: not valid UTF-8`);
    }
  }

  qid(what: string): Qid {
    this.need(13, what);
    return { type: this.u8(what), version: this.u32(what), path: this.u64(what) };
  }

  /** A sub-reader over the next n bytes, which this reader skips. */
  sub(n: number, what: string): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}

function fail(what: string, why: string): never {
  throw new NinepFormatError(`cannot pack ${what}: ${why}`);
}

function checkUint(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    fail(what, `${String(v)} is not an integer in 0..${max}`);
  }
  return v;
}

function checkU64(v: unknown, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) fail(what, `${String(v)} is not a u64 bigint`);
  return v;
}

function stringSize(v: unknown, what: string): number {
  if (typeof v !== 'string') fail(what, 'not a string');
  const n = Buffer.byteLength(v, 'utf8');
  if (n > 0xffff) fail(what, `string of ${n} bytes is longer than 65535`);
  return 2 + n;
}

function qidSize(v: unknown, what: string): number {
  const q = v as Partial<Qid> | null;
  if (typeof q !== 'object' || q === null) fail(what, 'not a qid');
  checkUint(q.type, 0xff, `${what}.type`);
  checkUint(q.version, 0xffffffff, `${what}.version`);
  checkU64(q.path, `${what}.path`);
  return 13;
}

/** Bytes a value of `kind` takes on the wire; throws if it cannot be packed. */
export function fieldSize(kind: FieldKind, v: unknown, what: string): number {
  switch (kind) {
    case 'u8':
      checkUint(v, 0xff, what);
      return 1;
    case 'u16':
      checkUint(v, 0xffff, what);
      return 2;
    case 'u32':
      checkUint(v, 0xffffffff, what);
      return 4;
    case 'u64':
      checkU64(v, what);
      return 8;
    case 'string':
      return stringSize(v, what);
    case 'qid':
      return qidSize(v, what);
    case 'data': {
      if (!(v instanceof Uint8Array)) fail(what, 'not a Buffer');
      return 4 + v.length;
    }
    case 'wnames':
    case 'wqids': {
      if (!Array.isArray(v)) fail(what, 'not an array');
      if (v.length > MAXWELEM) fail(what, `${v.length} elements, at most ${MAXWELEM} allowed`);
      let n = 2;
      for (const [i, e] of v.entries()) {
        n += kind === 'wnames' ? stringSize(e, `${what}[${i}]`) : qidSize(e, `${what}[${i}]`);
      }
      return n;
    }
    case 'stat':
      // n[2] in front of the entry, which carries its own size[2].
      return 2 + statEntrySize(v, what);
  }
}

/** Size of one stat entry including its leading size[2]. */
export function statEntrySize(v: unknown, what: string): number {
  if (typeof v !== 'object' || v === null) fail(what, 'not a stat');
  const body = layoutSize(statLayout, v as Record<string, unknown>, what);
  // The entry must fit both its own size[2] and, inside Rstat/Twstat, n[2].
  if (body + 2 > 0xffff) fail(what, `stat entry of ${body + 2} bytes is too large`);
  return 2 + body;
}

export function layoutSize(layout: Layout, obj: Record<string, unknown>, what: string): number {
  let n = 0;
  for (const [name, kind] of layout) n += fieldSize(kind, obj[name], `${what}.${name}`);
  return n;
}

/** Writes a value already checked by fieldSize; returns the new position. */
export function writeField(buf: Buffer, pos: number, kind: FieldKind, v: unknown): number {
  switch (kind) {
    case 'u8':
      return buf.writeUInt8(v as number, pos);
    case 'u16':
      return buf.writeUInt16LE(v as number, pos);
    case 'u32':
      return buf.writeUInt32LE(v as number, pos);
    case 'u64':
      return buf.writeBigUInt64LE(v as bigint, pos);
    case 'string': {
      const n = buf.write(v as string, pos + 2, 'utf8');
      buf.writeUInt16LE(n, pos);
      return pos + 2 + n;
    }
    case 'qid': {
      const q = v as Qid;
      pos = buf.writeUInt8(q.type, pos);
      pos = buf.writeUInt32LE(q.version, pos);
      return buf.writeBigUInt64LE(q.path, pos);
    }
    case 'data': {
      const d = v as Uint8Array;
      pos = buf.writeUInt32LE(d.length, pos);
      buf.set(d, pos);
      return pos + d.length;
    }
    case 'wnames':
    case 'wqids': {
      const a = v as unknown[];
      pos = buf.writeUInt16LE(a.length, pos);
      for (const e of a) pos = writeField(buf, pos, kind === 'wnames' ? 'string' : 'qid', e);
      return pos;
    }
    case 'stat': {
      const start = pos;
      pos = writeStatEntry(buf, pos + 2, v as Stat);
      buf.writeUInt16LE(pos - start - 2, start);
      return pos;
    }
  }
}

export function writeStatEntry(buf: Buffer, pos: number, st: Stat): number {
  const start = pos;
  pos = writeLayout(buf, pos + 2, statLayout, st as unknown as Record<string, unknown>);
  buf.writeUInt16LE(pos - start - 2, start);
  return pos;
}

export function writeLayout(buf: Buffer, pos: number, layout: Layout, obj: Record<string, unknown>): number {
  for (const [name, kind] of layout) pos = writeField(buf, pos, kind, obj[name]);
  return pos;
}

export function readField<K extends FieldKind>(r: Reader, kind: K, what: string): FieldValues[K] {
  return readAny(r, kind, what) as FieldValues[K];
}

function readAny(r: Reader, kind: FieldKind, what: string): FieldValues[FieldKind] {
  switch (kind) {
    case 'u8':
      return r.u8(what);
    case 'u16':
      return r.u16(what);
    case 'u32':
      return r.u32(what);
    case 'u64':
      return r.u64(what);
    case 'string':
      return r.string(what);
    case 'qid':
      return r.qid(what);
    case 'data': {
      const n = r.u32(`${what} count`);
      return r.bytes(n, what);
    }
    case 'wnames':
    case 'wqids': {
      const n = r.u16(`${what} count`);
      if (n > MAXWELEM) throw new NinepFormatError(`${what}: ${n} elements, at most ${MAXWELEM}`);
      const out: (string | Qid)[] = [];
      for (let i = 0; i < n; i++) {
        out.push(kind === 'wnames' ? r.string(`${what}[${i}]`) : r.qid(`${what}[${i}]`));
      }
      return out as string[] | Qid[];
    }
    case 'stat': {
      const n = r.u16(`${what} n`);
      const sub = r.sub(n, what);
      const st = readStatEntry(sub, what);
      if (sub.left !== 0) throw new NinepFormatError(`${what}: n=${n} disagrees with the stat size`);
      return st;
    }
  }
}

/** One stat entry (size[2] then the body), which must fill its size exactly. */
export function readStatEntry(r: Reader, what: string): Stat {
  const size = r.u16(`${what} size`);
  const body = r.sub(size, what);
  const st = readLayout(body, statLayout, what) as unknown as Stat;
  if (body.left !== 0) throw new NinepFormatError(`${what}: ${body.left} bytes after the last field`);
  return st;
}

export function readLayout(r: Reader, layout: Layout, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of layout) out[name] = readAny(r, kind, `${what}.${name}`);
  return out;
}
