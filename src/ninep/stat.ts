/** Conversions between the tree's FileStat and the 9P stat entry. */
import type { FileStat, Qid } from '../ns/types.js';
import { U64_MAX } from './constants.js';
import type { Stat } from './messages.js';

/** Sending qid.path 0 is a bug in the tree (types.ts promises never 0). */
export function assertQid(qid: Qid, what: string): Qid {
  if (qid.path === 0n) throw new Error(`${what}: qid.path is 0`);
  return qid;
}

export function toWireStat(st: FileStat): Stat {
  return {
    type: 0,
    dev: 0,
    qid: assertQid(st.qid, `stat of '${st.name}'`),
    // DMDIR | bits is negative in JavaScript's int32 arithmetic.
    mode: st.mode >>> 0,
    atime: clampU32(st.mtime),
    mtime: clampU32(st.mtime),
    length: Number.isFinite(st.length) ? BigInt(Math.max(0, Math.trunc(st.length))) : 0n,
    name: st.name,
    uid: st.uid,
    gid: st.gid,
    muid: st.uid,
  };
}

export function fromWireStat(st: Stat): FileStat {
  return {
    name: st.name,
    qid: st.qid,
    mode: st.mode >>> 0,
    length: st.length > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(st.length),
    mtime: st.mtime,
    uid: st.uid,
    gid: st.gid,
  };
}

/** A Twstat entry in which every field says "don't touch" (stat(9P)). */
export function dontTouchStat(): Stat {
  return {
    type: 0xffff,
    dev: 0xffffffff,
    qid: { type: 0xff, version: 0xffffffff, path: U64_MAX },
    mode: 0xffffffff,
    atime: 0xffffffff,
    mtime: 0xffffffff,
    length: U64_MAX,
    name: '',
    uid: '',
    gid: '',
    muid: '',
  };
}

/**
 * What a Twstat asks for, as far as this server cares: a new length (O_TRUNC
 * from a Unix client sends 0), name or mode, several of them, nothing at
 * all (a sync request), or some other change.
 */
export function wstatRequest(st: Stat): 'change' | { length?: bigint; name?: string; mode?: number } {
  const other =
    st.type !== 0xffff ||
    st.dev !== 0xffffffff ||
    st.qid.type !== 0xff ||
    st.qid.version !== 0xffffffff ||
    st.qid.path !== U64_MAX ||
    st.atime !== 0xffffffff ||
    st.mtime !== 0xffffffff ||
    st.uid !== '' ||
    st.gid !== '' ||
    st.muid !== '';
  if (other) return 'change';
  return {
    length: st.length === U64_MAX ? undefined : st.length,
    name: st.name === '' ? undefined : st.name,
    mode: st.mode === 0xffffffff ? undefined : st.mode >>> 0,
  };
}

function clampU32(n: number): number {
  if (!Number.isFinite(n) || n < 0) return 0;
  return Math.min(Math.trunc(n), 0xffffffff);
}
