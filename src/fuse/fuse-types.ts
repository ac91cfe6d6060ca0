/**
 * The fuse-native binding as this front end uses it, declared once: the
 * module, a mounted instance, and the operations with their callbacks
 * (fuse-native's README and index.js; the binding ships no types). A
 * callback's code is 0 or a negative errno (errno.ts makes it); `read` and
 * `write` answer with a byte count instead.
 */

/** An answer with nothing more: 0 or a negative errno. */
export type Done = (code: number) => void;
/** An answer with a value when the code is 0. */
export type Reply<T> = (code: number, value?: T) => void;
/** A byte count read or written, or a negative errno. */
export type Count = (countOrErrno: number) => void;

/** What getattr answers (the binding fills the rest of `struct stat` with 0); times in ms or Dates. */
export interface FuseStat {
  mode: number;
  size: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  atime: number;
  ctime: number;
}

/** The operations this file system implements; the binding answers ENOSYS for the rest. */
export interface FuseOps {
  getattr(path: string, cb: Reply<FuseStat>): void;
  fgetattr(path: string, fd: number, cb: Reply<FuseStat>): void;
  readdir(path: string, cb: Reply<string[]>): void;
  open(path: string, flags: number, cb: Reply<number>): void;
  create(path: string, mode: number, cb: Reply<number>): void;
  /** `buf` is the kernel's until `cb`: fill up to `len` bytes of it. */
  read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Count): void;
  /** `buf` is the kernel's until `cb`: copy what outlives it. */
  write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Count): void;
  release(path: string, fd: number, cb: Done): void;
  flush(path: string, fd: number, cb: Done): void;
  truncate(path: string, size: number, cb: Done): void;
  ftruncate(path: string, fd: number, size: number, cb: Done): void;
  rmdir(path: string, cb: Done): void;
  unlink(path: string, cb: Done): void;
  mkdir(path: string, mode: number, cb: Done): void;
  rename(src: string, dest: string, cb: Done): void;
  utimens(path: string, atime: Date, mtime: Date, cb: Done): void;
  chmod(path: string, mode: number, cb: Done): void;
  chown(path: string, uid: number, gid: number, cb: Done): void;
}

export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}

/** `new Fuse(mountpoint, ops, options)`; `_fuseOptions` makes the `-o` string (native.ts adds to it). */
export type FuseClass = new (
  mountpoint: string,
  ops: FuseOps,
  opts: Record<string, unknown>,
) => FuseInstance & { _fuseOptions(): string };

/** `require('fuse-native')`: the class, with `Fuse.unmount` (fusermount -u) on it. */
export type FuseModule = FuseClass & { unmount(mountpoint: string, cb: (err: Error | null) => void): void };
