/**
 * hellofs.mjs: the fuse-native baseline of the metadata benchmark, the
 * ceiling of the binding. One constant file /status served by the project's
 * own node_modules/fuse-native, mounted with the options taskfs uses (see
 * src/fuse/native.ts and src/fuse/mount.ts): direct_io, big_writes,
 * max_write=131072, attr and entry timeouts 0, no op timeout, auto_unmount.
 * Every op answers synchronously: this is what the binding costs, nothing more.
 *
 *   node bench/hellofs.mjs MOUNTPOINT
 *
 * Prints "mounted on MOUNTPOINT" on stderr; unmounts on SIGINT/SIGTERM.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const Fuse = require('fuse-native');

/** The same override as src/fuse/native.ts DirectIoFuse. */
export const TASKFS_EXTRA_OPTIONS = 'direct_io,big_writes,max_write=131072';

class DirectIoFuse extends Fuse {
  _fuseOptions() {
    const opts = super._fuseOptions();
    return opts ? `${opts},${TASKFS_EXTRA_OPTIONS}` : `-o${TASKFS_EXTRA_OPTIONS}`;
  }
}

const mountpoint = process.argv[2];
if (!mountpoint) {
  process.stderr.write('usage: node bench/hellofs.mjs MOUNTPOINT\n');
  process.exit(2);
}

const text = Buffer.from('4 Linux x86_64\n');
const now = new Date();
const uid = process.getuid();
const gid = process.getgid();
const dirStat = { mode: 0o040555, size: 0, uid, gid, nlink: 2, mtime: now, atime: now, ctime: now };
const fileStat = { mode: 0o100444, size: 0, uid, gid, nlink: 1, mtime: now, atime: now, ctime: now };
const handles = new Set();
let nextHandle = 1;

const ops = {
  getattr(path, cb) {
    if (path === '/') return cb(0, dirStat);
    if (path === '/status') return cb(0, fileStat);
    return cb(Fuse.ENOENT);
  },
  readdir(path, cb) {
    if (path !== '/') return cb(Fuse.ENOTDIR);
    return cb(0, ['.', '..', 'status']);
  },
  open(path, flags, cb) {
    if (path !== '/status') return cb(Fuse.ENOENT);
    if ((flags & 3) !== 0) return cb(Fuse.EACCES);
    const fd = nextHandle++;
    handles.add(fd);
    return cb(0, fd);
  },
  read(_path, fd, buf, len, pos, cb) {
    if (!handles.has(fd)) return cb(Fuse.EBADF);
    if (pos >= text.length) return cb(0);
    return cb(text.copy(buf, 0, pos, Math.min(text.length, pos + len)));
  },
  release(_path, fd, cb) {
    handles.delete(fd);
    return cb(0);
  },
  flush(_path, _fd, cb) {
    return cb(0);
  },
};

const fuse = new DirectIoFuse(mountpoint, ops, {
  timeout: false,
  force: true,
  autoUnmount: true,
  mkdir: true,
  attrTimeout: '0',
  entryTimeout: '0',
  fsname: 'hellofs',
  subtype: 'hellofs',
});

fuse.mount((err) => {
  if (err) {
    process.stderr.write(`hellofs: mount ${mountpoint}: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`hellofs: mounted on ${mountpoint} (options ${fuse._fuseOptions()})\n`);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  fuse.unmount(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
