/**
 * splice and xsplice: bytes carried from one file to another by the node,
 * in the background, so a write of the verb returns at once. The source
 * may be any file of the tree (another session's stdout) or of the host.
 */
import { open as openHost } from 'node:fs/promises';
import { normalize } from 'node:path';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import type { OpenFile } from '../ns/types.js';
import { resolveRelative, walkNames } from '../ns/walk.js';
import type { Session } from './session.js';

const log = createDebug('taskfs:splice');

/** Feed this session's stdin from PATH; its EOF closes the stdin. */
export async function splice(session: Session, path: string): Promise<void> {
  const source = await openSource(session, path);
  const sink = await openInTree(session, 'stdin', false);
  carry(session, source, sink, () => session.eof());
}

/** Pipe child SRC's stdout into child DST's stdin (paths relative to the session). */
export async function xsplice(session: Session, src: string, dst: string): Promise<void> {
  const source = await openInTree(session, `${src}/stdout`, true);
  const sink = await openInTree(session, `${dst}/stdin`, false).catch(async (err) => {
    await source.close();
    throw err;
  });
  carry(session, source, sink, async () => {
    const ctl = await openInTree(session, `${dst}/ctl`, false);
    try {
      await ctl.write(Buffer.from('eof\n'), 0);
    } finally {
      await ctl.close();
    }
  });
}

function carry(session: Session, source: OpenFile, sink: OpenFile, atEnd: () => Promise<void>): void {
  const stop = session.spliceSignal();
  void (async () => {
    let offset = 0;
    try {
      // An endless source (/dev/zero) stops when the session is released.
      while (!stop.aborted) {
        const data = await source.read(offset, 128 * 1024, stop);
        if (data.length === 0) break;
        offset += data.length;
        await sink.write(data, 0);
      }
      await atEnd();
    } catch (err) {
      if (!stop.aborted) {
        session.lastError = `splice: ${(err as Error).message}`;
        log('session %d: %s', session.id, session.lastError);
      }
    } finally {
      await Promise.allSettled([source.close(), sink.close()]);
    }
  })();
}

async function openInTree(session: Session, rel: string, read: boolean): Promise<OpenFile> {
  const names = resolveRelative([String(session.id)], rel);
  const node = await walkNames(session.node.root, names);
  if (!node.open) throw new FsError('EISDIR', `${rel}: is a directory`);
  return node.open({ read, write: !read });
}

async function openSource(session: Session, given: string): Promise<OpenFile> {
  const mount = session.node.mountpoint;
  if (given.includes('\0')) throw new FsError('EINVAL', 'splice: a NUL byte in the path');
  if (!given.startsWith('/')) return openInTree(session, given, true);
  // Normalized, so no spelling of a path into our own mount (//, /./) reaches the host fs.
  const path = normalize(given);
  if (mount && (path === mount || path.startsWith(mount + '/'))) {
    return openInTree(session, '/' + path.slice(mount.length), true);
  }
  const fh = await openHost(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new FsError(err.code === 'ENOENT' ? 'ENOENT' : 'EACCES', `splice: ${path}: ${err.message}`);
  });
  return {
    async read(offset, count) {
      const buf = Buffer.alloc(count);
      const { bytesRead } = await fh.read(buf, 0, count, offset);
      return buf.subarray(0, bytesRead);
    },
    async write() {
      throw new FsError('EACCES', 'permission denied');
    },
    close: () => fh.close(),
  };
}
