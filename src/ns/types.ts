/**
 * The protocol-neutral file tree that both front ends (FUSE, 9P) serve and
 * that the 9P client presents for a remote node. Nothing here knows FUSE,
 * 9P or processes.
 *
 * Contracts (the front ends check these before calling in):
 * - `walk` and `list` are only called on directories, `open` only on files.
 * - `open` is called with a mode the file's permission bits allow for
 *   someone; the file itself refuses what it cannot do (EACCES).
 * - `read`/`write` on an OpenFile are only called between open and close.
 */

/** Plan 9 qid type bits. */
export const QTDIR = 0x80;
export const QTFILE = 0x00;
/** Plan 9 mode bit for directories (also used in FileStat.mode). */
export const DMDIR = 0x80000000;

export interface Qid {
  type: number;
  version: number;
  /** Unique per file for the life of the server, never 0. */
  path: bigint;
}

export interface FileStat {
  name: string;
  qid: Qid;
  /** DMDIR | permission bits (0o777). */
  mode: number;
  /** 0 for synthetic files; output files report bytes spooled so far. */
  length: number;
  /** Seconds since the epoch. */
  mtime: number;
  uid: string;
  gid: string;
}

export interface OpenMode {
  read: boolean;
  write: boolean;
  /** O_TRUNC / OTRUNC: synthetic files treat it as a no-op. */
  truncate?: boolean;
  /**
   * A stream written in order (a session's stdin): a write may return before
   * the file has taken its bytes; a failure then comes from a later write,
   * `drain` or `close`. Files that cannot do that ignore it.
   */
  writeBehind?: boolean;
}

export interface Node {
  stat(): Promise<FileStat>;
  /** Directories: the child called `name`, or undefined. */
  walk?(name: string): Promise<Node | undefined>;
  /** Directories: stats of every child, in listing order. */
  list?(): Promise<FileStat[]>;
  /** Files: open for I/O. */
  open?(mode: OpenMode): Promise<OpenFile>;
  /**
   * Directories: make the file (or, with `dir`, the directory) `name` with
   * permission bits `perm` (default 0o644, 0o755) and return it; EEXIST if
   * there is one. Absent means EACCES: synthetic
   * directories are made by the node, only staging directories by users.
   */
  create?(name: string, dir: boolean, perm?: number): Promise<Node>;
  /** Set the permission bits (0o777) of a file in fs/; absent means EPERM. */
  chmod?(perm: number): Promise<void>;
  /**
   * Give this node a new name in the same directory (a file in fs/),
   * replacing a file of that name; absent means EPERM.
   */
  rename?(name: string): Promise<void>;
  /** Remove this node (rmdir of a session, unlink in fs/); absent means EPERM. */
  remove?(): Promise<void>;
  /**
   * Cut or extend to `length` (default 0: `echo x > file` asks for it before
   * writing, 9P as OTRUNC or a wstat of length). Absent means a no-op:
   * synthetic files have no length to cut, and ignore lengths other than 0.
   */
  truncate?(length?: number): Promise<void>;
  /**
   * Fast paths, optional, for the hottest op (FUSE getattr), which costs
   * about half as much answered without a promise. walkNow: the child
   * called `name` if known at once; undefined means "ask walk", never
   * "absent". quickStat: as stat, but the stat itself when known at once.
   */
  walkNow?(name: string): Node | undefined;
  quickStat?(): FileStat | Promise<FileStat>;
}

export interface OpenFile {
  /**
   * Bytes at `offset`, at most `count`; an empty buffer is EOF. May wait for
   * data; when `signal` aborts, rejects with EINTR and consumes nothing.
   */
  read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer>;
  /**
   * As read, but into `target` (up to its length): no buffer is made for
   * bulk output on the way to the kernel. Optional; front ends fall back to
   * read and a copy.
   */
  readInto?(target: Buffer, offset: number, signal?: AbortSignal): Promise<number>;
  /**
   * As read, for a 9P server passing the file on: data that arrived whole in
   * a 9P reply frame of its own comes with that frame, which becomes the
   * caller's (ninep/rread-frame.ts). Optional.
   */
  readFrame?(offset: number, count: number, signal?: AbortSignal): Promise<{ data: Buffer; frame?: Buffer }>;
  /** Accepts all of `data` or throws; returns the count written. */
  write(data: Buffer, offset: number, signal?: AbortSignal): Promise<number>;
  /** Opened with writeBehind: resolves once every write has been taken, or rejects with the first failure. */
  drain?(): Promise<void>;
  /** Called once; the handle is dead after it. */
  close(): Promise<void>;
  /** The most one read returns, where the file has such a bound (a 9P file's iounit). */
  readonly iounit?: number;
}

export function isDir(stat: FileStat): boolean {
  return (stat.mode & DMDIR) !== 0;
}
