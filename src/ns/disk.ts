/**
 * Real files on disk as ns Nodes: a directory whose entries can be made,
 * written, truncated and removed through either front end (the staging
 * directory `fs/` and the collected `out/` are these). Every operation goes
 * to the disk at once; nothing is cached, so the tree and the directory
 * never disagree.
 */
import { constants as fsc, type BigIntStats } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rename, rm, rmdir, truncate, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FsError, asFsError } from './errors.js';
import { DMDIR, QTDIR, QTFILE, type FileStat, type Node, type OpenFile, type OpenMode } from './types.js';

/**
 * Qid paths of disk files: the inode with bit 61 set, apart from the
 * node's own files (small numbers), sessions (serial << 8) and auth fids
 * (1 << 62).
 */
const DISK_QID = 1n << 61n;
const uid = process.env.USER ?? String(process.getuid?.() ?? 'none');

/** A file or directory under a disk root: `path` is where it is on disk. */
export function diskNode(path: string, name: string, st: BigIntStats): Node {
  return st.isDirectory() ? new DiskDir(path, name) : new DiskFile(path, name);
}

function toStat(name: string, st: BigIntStats): FileStat {
  const dir = st.isDirectory();
  return {
    name,
    qid: { type: dir ? QTDIR : QTFILE, version: Number(st.mtimeNs & 0xffffffffn), path: DISK_QID | st.ino },
    mode: (dir ? DMDIR : 0) | (Number(st.mode) & 0o777),
    length: dir ? 0 : Number(st.size),
    mtime: Number(st.mtimeMs / 1000n),
    uid,
    gid: uid,
  };
}

/** Names that cannot leave the directory they are made in. */
export function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new FsError('EINVAL', `bad file name ${JSON.stringify(name)}`);
  }
}

async function diskStat(path: string): Promise<BigIntStats> {
  try {
    return await lstat(path, { bigint: true });
  } catch (err) {
    throw asFsError(err);
  }
}

abstract class DiskEntry {
  /** Both change with a rename: a 9P fid follows its file. */
  constructor(
    public path: string,
    public name: string,
  ) {}

  async stat(): Promise<FileStat> {
    return toStat(this.name, await diskStat(this.path));
  }

  async chmod(perm: number): Promise<void> {
    await chmod(this.path, perm & 0o777).catch((err: unknown) => {
      throw asFsError(err);
    });
  }

  async rename(name: string): Promise<void> {
    checkName(name);
    const path = join(dirname(this.path), name);
    await rename(this.path, path).catch((err: unknown) => {
      throw asFsError(err);
    });
    this.path = path;
    this.name = name;
  }
}

export class DiskDir extends DiskEntry implements Node {
  async walk(name: string): Promise<Node | undefined> {
    if (name === '.' || name === '..' || name.includes('/')) return undefined;
    const path = join(this.path, name);
    const st = await lstat(path, { bigint: true }).catch(() => undefined);
    // Symbolic links are not served: a link could lead out of the directory.
    if (!st || !(st.isFile() || st.isDirectory())) return undefined;
    return diskNode(path, name, st);
  }

  async list(): Promise<FileStat[]> {
    const names = await readdir(this.path).catch((err: unknown) => {
      throw asFsError(err);
    });
    const stats = await Promise.all(
      names.map(async (n) => {
        const st = await lstat(join(this.path, n), { bigint: true }).catch(() => undefined);
        return st && (st.isFile() || st.isDirectory()) ? toStat(n, st) : undefined;
      }),
    );
    return stats.filter((s): s is FileStat => s !== undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async create(name: string, dir: boolean, perm = dir ? 0o755 : 0o644): Promise<Node> {
    checkName(name);
    const path = join(this.path, name);
    try {
      // Made with the bits asked for, umask aside: a staged script keeps its x.
      if (dir) await mkdir(path);
      else await (await open(path, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, 0o600)).close();
      await chmod(path, perm & 0o777);
    } catch (err) {
      throw asFsError(err);
    }
    return dir ? new DiskDir(path, name) : new DiskFile(path, name);
  }

  async remove(): Promise<void> {
    await rmdir(this.path).catch((err: unknown) => {
      throw asFsError(err);
    });
  }
}

export class DiskFile extends DiskEntry implements Node {
  async open(mode: OpenMode): Promise<OpenFile> {
    const access = mode.read && mode.write ? fsc.O_RDWR : mode.write ? fsc.O_WRONLY : fsc.O_RDONLY;
    let fh: FileHandle;
    try {
      fh = await open(this.path, access | (mode.truncate ? fsc.O_TRUNC : 0));
    } catch (err) {
      throw asFsError(err);
    }
    return diskHandle(fh);
  }

  async remove(): Promise<void> {
    await rm(this.path).catch((err: unknown) => {
      throw asFsError(err);
    });
  }

  async truncate(length = 0): Promise<void> {
    await truncate(this.path, length).catch((err: unknown) => {
      throw asFsError(err);
    });
  }
}

function diskHandle(fh: FileHandle): OpenFile {
  let closed = false;
  const failed = (err: unknown): never => {
    throw asFsError(err);
  };
  return {
    read: async (offset, count) => {
      const buf = Buffer.allocUnsafe(count);
      const { bytesRead } = await fh.read(buf, 0, count, offset).catch(failed);
      return buf.subarray(0, bytesRead);
    },
    readInto: async (target, offset) => (await fh.read(target, 0, target.length, offset).catch(failed)).bytesRead,
    write: async (data, offset) => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await fh.write(data, done, data.length - done, offset + done).catch(failed);
        done += bytesWritten;
      }
      return done;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}
