/** Server-side state of one fid and of the session that owns the fid table. */
import type { Node, OpenFile, Qid } from '../ns/types.js';
import { QTDIR } from '../ns/types.js';
import { FsError } from '../ns/errors.js';

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
   * parent links, and '..' needs them.
   */
  constructor(readonly nodes: readonly Node[], readonly qid: Qid) {}

  get node(): Node {
    return this.nodes[this.nodes.length - 1]!;
  }

  get isDir(): boolean {
    return (this.qid.type & QTDIR) !== 0;
  }
}

/** A `debug` instance fits; `enabled: false` lets callers skip building log text. */
export type Logger = ((formatter: string, ...args: unknown[]) => void) & { enabled?: boolean };

/** What the message handlers share for one 9P session (between Tversions). */
export interface Session {
  readonly fids: Map<number, Fid>;
  readonly msize: number;
  readonly root: () => Node;
  readonly log: Logger;
}

export function lookupFid(s: Session, fid: number): Fid {
  const f = s.fids.get(fid);
  if (f === undefined) throw new FsError('EBADF', 'unknown fid');
  return f;
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
