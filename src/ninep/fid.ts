/** Server-side state of one fid and of the session that owns the fid table. */
import type { Node, OpenFile, Qid } from '../ns/types.js';
import { QTDIR } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import type { AuthConversation } from './authfid.js';

/** Where the next directory read must start, and what it continues. */
export interface DirState {
  /** Packed stat entries, snapshotted by the read at offset 0. */
  entries: Buffer[];
  index: number;
  offset: bigint;
}

export interface OpenState {
  mode: number;
  read: boolean;
  write: boolean;
  /** Set for files. */
  file?: OpenFile;
  /** Set for directories. */
  dir?: DirState;
}

export class Fid {
  /** True while a Topen is in progress, so a second one cannot race it. */
  opening = false;
  open: OpenState | undefined;

  /**
   * `nodes` is the walk from the attach root (root first): the tree has no
   * parent links, and '..' needs them. An auth fid (Tauth) has no nodes,
   * only its conversation; lookupFid keeps it out of tree operations.
   */
  constructor(
    readonly nodes: readonly Node[],
    readonly qid: Qid,
    readonly auth?: AuthConversation,
  ) {}

  get node(): Node {
    return this.nodes[this.nodes.length - 1]!;
  }

  get isDir(): boolean {
    return (this.qid.type & QTDIR) !== 0;
  }
}

/** A `debug` instance fits; `enabled: false` lets callers skip building log text. */
export type Logger = ((formatter: string, ...args: unknown[]) => void) & { enabled?: boolean };

/** What the message handlers share for one 9P connection between Tversions (9P calls it a session). */
export interface ConnState {
  readonly fids: Map<number, Fid>;
  readonly msize: number;
  readonly root: () => Node;
  readonly log: Logger;
  /** Most fids the table may hold (ServeOptions.maxFids). */
  readonly maxFids: number;
  /** Set when clients must authenticate (ServeOptions.key). */
  readonly auth?: AuthPolicy;
  /** Treads being answered now (handlers.ts bounds their size by it). */
  reading: number;
}

export interface AuthPolicy {
  readonly key: Buffer;
  /** Reports a refused attempt: logged, and warned about with the peer's address. */
  refused(why: string): void;
}

/** A fid of the tree (not an auth fid). */
export function lookupFid(s: ConnState, fid: number): Fid {
  const f = lookupAnyFid(s, fid);
  if (f.auth !== undefined) throw new FsError('EBADF', 'bad use of an authentication fid');
  return f;
}

/** Any fid, auth fids included (clunk, remove). */
export function lookupAnyFid(s: ConnState, fid: number): Fid {
  const f = s.fids.get(fid);
  if (f === undefined) throw new FsError('EBADF', 'unknown fid');
  return f;
}

/**
 * Refuses a new fid once the table holds maxFids, so a client that leaks
 * fids (or makes them on purpose) cannot grow the server without bound.
 */
export function roomForFid(s: ConnState): void {
  if (s.fids.size >= s.maxFids) throw new FsError('EMFILE', 'too many open files');
}

/** Thrown when a handler notices its request was flushed before it committed anything. */
export function interrupted(): FsError {
  return new FsError('EINTR', 'interrupted');
}

/** Closes an open file, logging (not throwing) a failure: the fid is gone either way. */
export async function closeQuietly(f: Fid, log: Logger): Promise<void> {
  const file = f.open?.file;
  f.open = undefined;
  if (file === undefined) return;
  try {
    await file.close();
  } catch (err) {
    log('close failed: %s', (err as Error)?.message ?? err);
  }
}
