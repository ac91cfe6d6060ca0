/**
 * The one table of 9P2000 message layouts. The codec walks it to pack and
 * unpack, and the message types below are derived from it, so a layout
 * change cannot leave the encoder, decoder and types out of step.
 *
 * Every message starts with size[4] type[1] tag[2]; the table lists only
 * what follows the tag.
 */
import type { Qid } from '../ns/types.js';

/**
 * Field kinds on the wire:
 * - u8/u16/u32: little-endian unsigned integers; u64 is a bigint.
 * - string: s[2], a count then that many UTF-8 bytes.
 * - qid: type[1] version[4] path[8].
 * - data: count[4] then the bytes (Rread, Twrite).
 * - wnames/wqids: a count[2] then that many strings/qids (Twalk, Rwalk).
 * - stat: n[2] then one stat entry, which itself begins with size[2]
 *   (the size appears twice; see stat(9P) BUGS).
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'string' | 'qid' | 'data' | 'wnames' | 'wqids' | 'stat';

/** The machine-independent directory entry of stat(9P). */
export interface Stat {
  /** For kernel use; 0 from servers, 0xffff = "don't touch" in Twstat. */
  type: number;
  dev: number;
  qid: Qid;
  /** DMDIR etc. in the high bits, permissions in the low nine. */
  mode: number;
  atime: number;
  mtime: number;
  length: bigint;
  name: string;
  uid: string;
  gid: string;
  muid: string;
}

/** The JavaScript value each field kind decodes to. */
export interface FieldValues {
  u8: number;
  u16: number;
  u32: number;
  u64: bigint;
  string: string;
  qid: Qid;
  data: Buffer;
  wnames: string[];
  wqids: Qid[];
  stat: Stat;
}

export type Layout = readonly (readonly [string, FieldKind])[];

/** Body of a stat entry after its own size[2]. */
export const statLayout = [
  ['type', 'u16'],
  ['dev', 'u32'],
  ['qid', 'qid'],
  ['mode', 'u32'],
  ['atime', 'u32'],
  ['mtime', 'u32'],
  ['length', 'u64'],
  ['name', 'string'],
  ['uid', 'string'],
  ['gid', 'string'],
  ['muid', 'string'],
] as const satisfies Layout;

export const layouts = {
  Tversion: {
    id: 100,
    fields: [
      ['msize', 'u32'],
      ['version', 'string'],
    ],
  },
  Rversion: {
    id: 101,
    fields: [
      ['msize', 'u32'],
      ['version', 'string'],
    ],
  },
  Tauth: {
    id: 102,
    fields: [
      ['afid', 'u32'],
      ['uname', 'string'],
      ['aname', 'string'],
    ],
  },
  Rauth: { id: 103, fields: [['aqid', 'qid']] },
  Tattach: {
    id: 104,
    fields: [
      ['fid', 'u32'],
      ['afid', 'u32'],
      ['uname', 'string'],
      ['aname', 'string'],
    ],
  },
  Rattach: { id: 105, fields: [['qid', 'qid']] },
  // 106 would be Terror, which is illegal on the wire and so absent here.
  Rerror: { id: 107, fields: [['ename', 'string']] },
  Tflush: { id: 108, fields: [['oldtag', 'u16']] },
  Rflush: { id: 109, fields: [] },
  Twalk: {
    id: 110,
    fields: [
      ['fid', 'u32'],
      ['newfid', 'u32'],
      ['wnames', 'wnames'],
    ],
  },
  Rwalk: { id: 111, fields: [['wqids', 'wqids']] },
  Topen: {
    id: 112,
    fields: [
      ['fid', 'u32'],
      ['mode', 'u8'],
    ],
  },
  Ropen: {
    id: 113,
    fields: [
      ['qid', 'qid'],
      ['iounit', 'u32'],
    ],
  },
  Tcreate: {
    id: 114,
    fields: [
      ['fid', 'u32'],
      ['name', 'string'],
      ['perm', 'u32'],
      ['mode', 'u8'],
    ],
  },
  Rcreate: {
    id: 115,
    fields: [
      ['qid', 'qid'],
      ['iounit', 'u32'],
    ],
  },
  Tread: {
    id: 116,
    fields: [
      ['fid', 'u32'],
      ['offset', 'u64'],
      ['count', 'u32'],
    ],
  },
  Rread: { id: 117, fields: [['data', 'data']] },
  Twrite: {
    id: 118,
    fields: [
      ['fid', 'u32'],
      ['offset', 'u64'],
      ['data', 'data'],
    ],
  },
  Rwrite: { id: 119, fields: [['count', 'u32']] },
  Tclunk: { id: 120, fields: [['fid', 'u32']] },
  Rclunk: { id: 121, fields: [] },
  Tremove: { id: 122, fields: [['fid', 'u32']] },
  Rremove: { id: 123, fields: [] },
  Tstat: { id: 124, fields: [['fid', 'u32']] },
  Rstat: { id: 125, fields: [['stat', 'stat']] },
  Twstat: {
    id: 126,
    fields: [
      ['fid', 'u32'],
      ['stat', 'stat'],
    ],
  },
  Rwstat: { id: 127, fields: [] },
} as const satisfies Record<string, { id: number; fields: Layout }>;

export type MessageName = keyof typeof layouts;

type Flatten<T> = { -readonly [K in keyof T]: T[K] };
type ValuesOf<L extends Layout> = { [F in L[number] as F[0]]: FieldValues[F[1]] };

/** One message, e.g. Msg<'Tread'> = { type: 'Tread'; tag; fid; offset; count }. */
export type Msg<N extends MessageName> = Flatten<{ type: N; tag: number } & ValuesOf<(typeof layouts)[N]['fields']>>;

/** Every message, discriminated on `type`. */
export type Message = { [N in MessageName]: Msg<N> }[MessageName];
export type TName = Extract<MessageName, `T${string}`>;
export type RName = Extract<MessageName, `R${string}`>;
export type TMessage = { [N in TName]: Msg<N> }[TName];
export type RMessage = { [N in RName]: Msg<N> }[RName];

/** A message before a tag is attached (what handlers return, clients send). */
export type Untagged<M> = M extends unknown ? Omit<M, 'tag'> : never;

const byId = new Map<number, MessageName>(Object.entries(layouts).map(([name, l]) => [l.id, name as MessageName]));

export function messageName(id: number): MessageName | undefined {
  return byId.get(id);
}

export function isTName(name: MessageName): name is TName {
  return name.startsWith('T');
}
