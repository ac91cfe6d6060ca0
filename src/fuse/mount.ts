/**
 * The FUSE front end: serves an ns tree at a mount point. Paths are walked
 * from the root on every op (the tree is small and synthetic); open files
 * live in a handle table keyed by the FUSE file handle.
 */
import { constants as fsc } from 'node:fs';
import { setMaxListeners } from 'node:events';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import { isMounted } from './mountinfo.js';
import { isDir, type FileStat, type Node, type OpenFile } from '../ns/types.js';
import { pathNames, walkNames } from '../ns/walk.js';
import { toErrno } from './errno.js';
import type { Count, Done, FuseInstance, FuseOps, FuseStat, Reply } from './fuse-types.js';
import { loadFuse, lazyUnmount } from './native.js';

const log = createDebug('taskfs:fuse');
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const uid = process.getuid?.() ?? 0;
const gid = process.getgid?.() ?? 0;

export interface MountOptions {
  /**
   * A read that has waited this long is answered EINTR: FUSE reads cannot be
   * interrupted, but shells and coreutils retry EINTR, so Ctrl-C works.
   */
  interruptAfterMs?: number;
  /** Called when the mount disappears from outside (fusermount -u). */
  onExternalUnmount?: () => void;
  /** Let other users in (FUSE allow_other). The mount is private otherwise. */
  allowOther?: boolean;
}

export class FuseMount {
  private readonly handles = new Map<number, OpenFile>();
  private readonly interrupts: Interrupts;
  private nextHandle = 1;
  private fuse?: FuseInstance;
  private watch?: NodeJS.Timeout;
  private closing = false;

  private constructor(
    readonly mountpoint: string,
    private readonly root: Node,
    private readonly opts: MountOptions,
  ) {
    this.interrupts = new Interrupts(opts.interruptAfterMs ?? 1000);
  }

  static async mount(root: Node, mountpoint: string, opts: MountOptions = {}): Promise<FuseMount> {
    const m = new FuseMount(mountpoint, root, opts);
    await m.start();
    return m;
  }

  private async start(): Promise<void> {
    const { DirectIoFuse } = loadFuse();
    this.fuse = new DirectIoFuse(this.mountpoint, this.ops(), {
      timeout: false, // blocking reads (wait, stdout) may take hours
      force: true, // clear a stale mount left by a crash
      allowOther: this.opts.allowOther ?? false,
      autoUnmount: true, // a crash unmounts by itself
      mkdir: true,
      attrTimeout: '0',
      entryTimeout: '0',
      fsname: 'taskfs',
      subtype: 'taskfs',
    });
    await new Promise<void>((resolve, reject) => this.fuse!.mount((err) => (err ? reject(err) : resolve())));
    log('mounted %s', this.mountpoint);
    this.watch = setInterval(() => void this.checkStillMounted(), 1000);
    this.watch.unref();
  }

  /** Answer every blocked reader, close every handle, unmount. */
  async unmount(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.watch);
    this.interrupts.stop();
    await new Promise<void>((resolve) =>
      this.fuse!.unmount((err) => {
        if (err) log('unmount: %s', err.message);
        resolve();
      }),
    );
    if (await isMounted(this.mountpoint)) await lazyUnmount(this.mountpoint).catch(() => undefined);
    await this.closeAll();
    log('unmounted %s', this.mountpoint);
  }

  private async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(all.map((h) => h.close()));
  }

  private async checkStillMounted(): Promise<void> {
    if (this.closing || (await isMounted(this.mountpoint))) return;
    log('%s was unmounted from outside', this.mountpoint);
    this.closing = true;
    clearInterval(this.watch);
    this.interrupts.stop();
    await this.closeAll();
    this.opts.onExternalUnmount?.();
  }

  private resolve(path: string): Promise<Node> {
    return walkNames(this.root, pathNames(path));
  }

  /** The stat of `path` when every step of the walk answers at once (the stat may still be a promise). */
  private quickStat(path: string): FileStat | Promise<FileStat> | undefined {
    let node: Node | undefined = this.root;
    for (const name of pathNames(path)) {
      node = node.walkNow?.(name);
      if (!node) return undefined;
    }
    return node.quickStat?.();
  }

  private handle(fd: number): OpenFile {
    const h = this.handles.get(fd);
    if (!h) throw new FsError('EBADF', 'bad file handle');
    return h;
  }

  /** The binding's operations: each a small handler; refusals share one answer. */
  private ops(): FuseOps {
    const refuse = (code: 'EPERM' | 'EACCES') => toErrno(new FsError(code, 'permission denied'));
    return {
      getattr: (path, cb) => this.getattr(path, cb),
      fgetattr: (path, _fd, cb) => reply(cb, async () => toStat(await (await this.resolve(path)).stat())),
      readdir: (path, cb) => reply(cb, () => this.readdir(path)),
      open: (path, flags, cb) => reply(cb, () => this.open(path, flags)),
      read: (_path, fd, buf, len, pos, cb) => this.read(fd, buf, len, pos, cb),
      write: (_path, fd, buf, len, pos, cb) => this.write(fd, buf, len, pos, cb),
      release: (_path, fd, cb) => this.release(fd, cb),
      truncate: (path, size, cb) => done(cb, () => this.truncate(path, size)),
      ftruncate: (path, _fd, size, cb) => done(cb, () => this.truncate(path, size)),
      rmdir: (path, cb) => done(cb, () => this.rmdir(path)),
      unlink: (path, cb) => done(cb, () => this.rmdir(path)),
      mkdir: (path, mode, cb) => done(cb, async () => void (await this.create(path, true, mode))),
      create: (path, mode, cb) => reply(cb, () => this.createOpen(path, mode)),
      rename: (src, dest, cb) => done(cb, () => this.rename(src, dest)),
      // touch(1) and editors set times: accepted, synthetic files keep none.
      utimens: (_path, _atime, _mtime, cb) => cb(0),
      chmod: (path, mode, cb) => done(cb, () => this.chmod(path, mode)),
      chown: (_path, _uid, _gid, cb) => cb(refuse('EPERM')),
      flush: (_path, _fd, cb) => cb(0),
    };
  }

  /** The hottest op: answered without a promise when the walk and the stat are known at once. */
  private getattr(path: string, cb: Reply<FuseStat>): void {
    const st = this.quickStat(path);
    if (st && !(st instanceof Promise)) return cb(0, toStat(st));
    reply(cb, async () => toStat(await (st ?? (await this.resolve(path)).stat())));
  }

  private async readdir(path: string): Promise<string[]> {
    const node = await this.resolve(path);
    if (!node.list) throw new FsError('ENOTDIR', 'not a directory');
    return ['.', '..', ...(await node.list()).map((s) => s.name)];
  }

  private async open(path: string, flags: number): Promise<number> {
    const node = await this.resolve(path);
    if (!node.open) throw new FsError('EISDIR', 'is a directory');
    const acc = flags & O_ACCMODE;
    const file = await node.open({ read: acc !== 1, write: acc !== 0, truncate: (flags & fsc.O_TRUNC) !== 0 });
    const fd = this.allocHandle();
    this.handles.set(fd, file);
    return fd;
  }

  private read(fd: number, buf: Buffer, len: number, pos: number, cb: Count): void {
    let file: OpenFile;
    try {
      file = this.handle(fd);
    } catch (err) {
      return cb(toErrno(err));
    }
    // The kernel's buffer stays ours until cb: output is read straight into it.
    const signal = this.interrupts.signal();
    const reading = file.readInto
      ? file.readInto(buf.subarray(0, len), pos, signal)
      : file.read(pos, len, signal).then((d) => d.copy(buf));
    reading.then(cb, (err) => cb(toErrno(err)));
  }

  private write(fd: number, buf: Buffer, len: number, pos: number, cb: Count): void {
    // The buffer is the kernel's: copy it before going async.
    const data = Buffer.from(buf.subarray(0, len));
    Promise.resolve()
      .then(() => this.handle(fd).write(data, pos))
      .then(
        (n) => cb(n),
        (err) => cb(toErrno(err)),
      );
  }

  /** A close always succeeds for the kernel; a failure is only logged. */
  private release(fd: number, cb: Done): void {
    const h = this.handles.get(fd);
    this.handles.delete(fd);
    if (!h) return cb(0);
    h.close().then(
      () => cb(0),
      (err) => {
        log('close: %O', err);
        cb(0);
      },
    );
  }

  /** `>` truncates to 0 first; synthetic files have no other length to cut to. */
  private async truncate(path: string, size: number): Promise<void> {
    await (await this.resolve(path)).truncate?.(size);
  }

  /** mkdir and creat: only directories that offer create (fs/) take new names. */
  private async create(path: string, dir: boolean, mode: number): Promise<Node> {
    const names = pathNames(path);
    const parent = await walkNames(this.root, names.slice(0, -1));
    if (!parent.create) throw new FsError('EACCES', 'permission denied');
    return parent.create(names[names.length - 1]!, dir, mode & 0o777);
  }

  /** creat(2) arrives as create, which answers with an open handle. */
  private async createOpen(path: string, mode: number): Promise<number> {
    const file = await (await this.create(path, false, mode)).open!({ read: true, write: true });
    const fd = this.allocHandle();
    this.handles.set(fd, file);
    return fd;
  }

  /** Within one directory; mv copies and removes on EXDEV. */
  private async rename(from: string, to: string): Promise<void> {
    const [a, b] = [pathNames(from), pathNames(to)];
    const node = await this.resolve(from);
    if (!node.rename) throw new FsError('EPERM', 'permission denied');
    if (a.slice(0, -1).join('/') !== b.slice(0, -1).join('/')) throw new FsError('EXDEV', 'rename across directories');
    await node.rename(b[b.length - 1]!);
  }

  private async chmod(path: string, mode: number): Promise<void> {
    const node = await this.resolve(path);
    if (!node.chmod) throw new FsError('EPERM', 'permission denied');
    await node.chmod(mode);
  }

  /** rmdir, and unlink of a file in fs/ (the kernel refuses unlink of a directory). */
  private async rmdir(path: string): Promise<void> {
    const node = await this.resolve(path);
    if (!node.remove) throw new FsError('EPERM', 'permission denied');
    await node.remove();
  }

  private allocHandle(): number {
    do {
      this.nextHandle = this.nextHandle >= 0x7fffffff ? 1 : this.nextHandle + 1;
    } while (this.handles.has(this.nextHandle));
    return this.nextHandle;
  }
}

/** Every op with a value answers through here, so errors are mapped in one place. */
function reply<T>(cb: Reply<T>, work: () => Promise<T>): void {
  work().then(
    (v) => cb(0, v),
    (err) => {
      if (!(err instanceof FsError)) log('op failed: %O', err);
      cb(toErrno(err));
    },
  );
}

/** As reply, for ops that answer only 0 or an errno. */
function done(cb: Done, work: () => Promise<void>): void {
  reply((code) => cb(code), work);
}

function toStat(s: FileStat): FuseStat {
  const when = s.mtime * 1000; // the binding takes milliseconds as well as Dates: no Date per getattr
  const dir = isDir(s);
  return {
    mode: (dir ? S_IFDIR : S_IFREG) | (s.mode & 0o777),
    size: s.length,
    uid,
    gid,
    nlink: dir ? 2 : 1,
    mtime: when,
    atime: when,
    ctime: when,
  };
}

/**
 * Signals that abort a blocked read after one to two periods, without a
 * controller and a timer per read: reads started in one period share the
 * signal that the end of the next period aborts.
 */
class Interrupts {
  private current = shared();
  private next = shared();
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs: number) {
    this.timer = setInterval(() => {
      this.current.abort();
      this.current = this.next;
      this.next = shared();
    }, periodMs);
    this.timer.unref();
  }

  signal(): AbortSignal {
    return this.next.signal;
  }

  /** Answer every blocked read now, and stop. */
  stop(): void {
    clearInterval(this.timer);
    this.current.abort();
    this.next.abort();
  }
}

/** A controller whose signal many blocked reads listen to at once. */
function shared(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}
