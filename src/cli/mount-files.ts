/**
 * A mount as its clients see it: files opened like any user would, so the
 * commands work on any node, local or over 9pfuse. Two habits of taskfs
 * files shape this: a read that blocks for a second is answered EINTR (and
 * must be retried: README "Lifetime"), and a failed ctl write keeps its
 * reason in the directory's `err`.
 */
import { type FileHandle, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { expandHome } from './options.js';

/** Where the client commands look: -m MOUNT, else $TASKFS_MOUNT, else ~/tasks. */
export function mountPath(flag: string | undefined): string {
  return resolve(expandHome(flag ?? (process.env.TASKFS_MOUNT || '~/tasks')));
}

/** Fails with one line saying what is wrong unless a live taskfs node is mounted at `mount`. */
export async function checkMount(mount: string): Promise<void> {
  try {
    await stat(join(mount, 'clone'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN' || code === 'ECONNABORTED')
      throw new Error(`the taskfs mount at ${mount} is not answering (its node is gone): fusermount -u ${mount}`);
    throw new Error(`no taskfs mount at ${mount} (start one with 'taskfs mount ${mount}', or give -m or TASKFS_MOUNT)`);
  }
}

export function isEintr(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'EINTR';
}

const CHUNK_BYTES = 128 * 1024; // a FUSE read's largest

/** One read, retried while the node answers EINTR (a read that blocked for a second). */
async function readSome(fh: FileHandle, buf: Buffer, position: number, signal?: AbortSignal): Promise<number> {
  for (;;) {
    if (signal?.aborted) return 0;
    try {
      return (await fh.read(buf, 0, buf.length, position)).bytesRead;
    } catch (err) {
      if (!isEintr(err)) throw err;
    }
  }
}

/**
 * Read a file to its end, handing each piece to `onData` as it arrives: a
 * spooled stream (stdout, wait) blocks until there is more and ends when
 * its producer does. An abort stops it at the next read's return.
 */
export async function follow(
  path: string,
  onData: (data: Buffer) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(CHUNK_BYTES);
    for (let offset = 0; !signal?.aborted; ) {
      const n = await readSome(fh, buf, offset, signal);
      if (n === 0) return;
      offset += n;
      await onData(Buffer.from(buf.subarray(0, n)));
    }
  } finally {
    await fh.close();
  }
}

/** A whole file as text (snapshot files such as status never block for long). */
export async function readText(path: string): Promise<string> {
  const parts: Buffer[] = [];
  await follow(path, (d) => void parts.push(d));
  return Buffer.concat(parts).toString();
}

/** A file's text, or undefined where it does not exist. */
export async function readIfThere(path: string): Promise<string | undefined> {
  return readText(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
    throw err;
  });
}

/**
 * An open `clone` (of sessions or jobs): its number, and ctl writes on the
 * same handle. The handle owns what it makes: for a session, closing it
 * (or this process dying) kills and releases the leaves.
 */
export class CloneHandle {
  private constructor(
    private readonly fh: FileHandle,
    /** The session or job directory. */
    readonly dir: string,
    readonly id: string,
  ) {}

  static async open(parent: string): Promise<CloneHandle> {
    const fh = await open(join(parent, 'clone'), 'r+');
    try {
      const buf = Buffer.alloc(64);
      const id = buf
        .subarray(0, await readSome(fh, buf, 0))
        .toString()
        .trim();
      if (!/^\d+$/.test(id)) throw new Error(`${parent}/clone gave ${JSON.stringify(id)}, not a number`);
      return new CloneHandle(fh, join(parent, id), id);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** A ctl write; a refusal throws the node's reason (from `err`), its errno kept as `code`. */
  ctl(text: string): Promise<void> {
    return this.withReason(this.fh.write(text.endsWith('\n') ? text : `${text}\n`, 0));
  }

  /** Write a file of the directory (a job's `tasks`); a refusal throws as ctl does. */
  write(name: string, text: string): Promise<void> {
    return this.withReason(writeFile(join(this.dir, name), text));
  }

  private async withReason(writing: Promise<unknown>): Promise<void> {
    try {
      await writing;
    } catch (err) {
      const reason = (await readFile(join(this.dir, 'err'), 'utf8').catch(() => '')).trim();
      const e = err as NodeJS.ErrnoException;
      throw Object.assign(new Error(reason || e.message), { code: e.code });
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
