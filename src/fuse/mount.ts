/**
 * The FUSE front end: serves an ns tree at a mount point. Paths are walked
 * from the root on every op (the tree is small and synthetic); open files
 * live in a handle table keyed by the FUSE file handle.
 */
import { constants as fsc } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import { isDir, type FileStat, type Node, type OpenFile } from '../ns/types.js';
import { pathNames, walkNames } from '../ns/walk.js';
import { toErrno } from './errno.js';
import { loadFuse, lazyUnmount, type FuseInstance } from './native.js';

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

  /** mkdir and creat: only directories that offer create (fs/) take new names. */
  private async create(path: string, dir: boolean, mode?: number): Promise<Node> {
    const names = pathNames(path);
    const parent = await walkNames(this.root, names.slice(0, -1));
    if (!parent.create) throw new FsError('EACCES', 'permission denied');
    return parent.create(names[names.length - 1]!, dir, mode === undefined ? undefined : mode & 0o777);
  }

  /** Within one directory; mv copies and removes on EXDEV. */
  private async rename(from: string, to: string): Promise<void> {
    const [a, b] = [pathNames(from), pathNames(to)];
    const node = await this.resolve(from);
    if (!node.rename) throw new FsError('EPERM', 'permission denied');
    if (a.slice(0, -1).join('/') !== b.slice(0, -1).join('/')) throw new FsError('EXDEV', 'rename across directories');
    await node.rename(b[b.length - 1]!);
  }

  private async remove(path: string): Promise<void> {
    const node = await this.resolve(path);
    if (!node.remove) throw new FsError('EPERM', 'permission denied');
    await node.remove();
  }

  private handle(fd: number): OpenFile {
    const h = this.handles.get(fd);
    if (!h) throw new FsError('EBADF', 'bad file handle');
    return h;
  }

  private ops() {
    // Every op answers through `reply`, so errors are mapped in one place.
    const reply = <T>(
      cb: (code: number, value?: T) => void,
      work: () => Promise<T>,
      ok: (v: T) => [number, T?] = (v) => [0, v],
    ) => {
      work().then(
        (v) => cb(...ok(v)),
        (err) => {
          if (!(err instanceof FsError)) log('op failed: %O', err);
          cb(toErrno(err));
        },
      );
    };

    return {
      getattr: (path: string, cb: any) => {
        const st = this.quickStat(path);
        if (st && !(st instanceof Promise)) return cb(0, toStat(st));
        reply(cb, async () => toStat(await (st ?? (await this.resolve(path)).stat())));
      },
      fgetattr: (path: string, _fd: number, cb: any) =>
        reply(cb, async () => toStat(await (await this.resolve(path)).stat())),
      readdir: (path: string, cb: (code: number, names?: string[]) => void) => {
        this.resolve(path)
          .then((node) => {
            if (!node.list) throw new FsError('ENOTDIR', 'not a directory');
            return node.list();
          })
          .then(
            (stats) => cb(0, ['.', '..', ...stats.map((s) => s.name)]),
            (err) => cb(toErrno(err)),
          );
      },
      open: (path: string, flags: number, cb: any) =>
        reply(cb, async () => {
          const node = await this.resolve(path);
          if (!node.open) throw new FsError('EISDIR', 'is a directory');
          const acc = flags & O_ACCMODE;
          const file = await node.open({ read: acc !== 1, write: acc !== 0, truncate: (flags & fsc.O_TRUNC) !== 0 });
          const fd = this.allocHandle();
          this.handles.set(fd, file);
          return fd;
        }),
      read: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
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
      },
      write: (_path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) => {
        // The buffer is the kernel's: copy it before going async.
        const data = Buffer.from(buf.subarray(0, len));
        Promise.resolve()
          .then(() => this.handle(fd).write(data, pos))
          .then(
            (n) => cb(n),
            (err) => cb(toErrno(err)),
          );
      },
      release: (_path: string, fd: number, cb: (n: number) => void) => {
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
      },
      truncate: (path: string, size: number, cb: any) =>
        reply(
          cb,
          async () => void (await (await this.resolve(path)).truncate?.(size)),
          () => [0],
        ),
      ftruncate: (path: string, _fd: number, size: number, cb: any) =>
        reply(
          cb,
          async () => void (await (await this.resolve(path)).truncate?.(size)),
          () => [0],
        ),
      rmdir: (path: string, cb: any) =>
        reply(
          cb,
          () => this.remove(path),
          () => [0],
        ),
      unlink: (path: string, cb: any) =>
        reply(
          cb,
          () => this.remove(path),
          () => [0],
        ),
      mkdir: (path: string, mode: number, cb: any) =>
        reply(
          cb,
          async () => void (await this.create(path, true)),
          () => [0],
        ),
      create: (path: string, mode: number, cb: any) =>
        reply(cb, async () => {
          const node = await this.create(path, false, mode);
          const file = await node.open!({ read: true, write: true });
          const fd = this.allocHandle();
          this.handles.set(fd, file);
          return fd;
        }),
      rename: (from: string, to: string, cb: any) =>
        reply(
          cb,
          () => this.rename(from, to),
          () => [0],
        ),
      // touch(1) and editors set times: accepted, synthetic files keep none.
      utimens: (_path: string, _a: unknown, _m: unknown, cb: any) => cb(0),
      chmod: (path: string, mode: number, cb: any) =>
        reply(
          cb,
          async () => {
            const node = await this.resolve(path);
            if (!node.chmod) throw new FsError('EPERM', 'permission denied');
            await node.chmod(mode);
          },
          () => [0],
        ),
      chown: (_path: string, _u: number, _g: number, cb: any) => cb(toErrno(new FsError('EPERM', 'permission denied'))),
      flush: (_path: string, _fd: number, cb: any) => cb(0),
    };
  }

  private allocHandle(): number {
    do {
      this.nextHandle = this.nextHandle >= 0x7fffffff ? 1 : this.nextHandle + 1;
    } while (this.handles.has(this.nextHandle));
    return this.nextHandle;
  }
}

function toStat(s: FileStat) {
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

export async function isMounted(mountpoint: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return table.split('\n').some((line) => line.split(' ')[4] === mountpoint.replace(/ /g, '\\040'));
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
