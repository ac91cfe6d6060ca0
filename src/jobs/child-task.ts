/**
 * Tasks as a node's own work (README "Jobs: where tasks run"): each a
 * session through the node's clone, exactly what a user of that node would
 * do: clone, env, exec, read wait, copy stdout and stderr, remove. Used for
 * child nodes (child-worker.ts) and for hosts lent by a Slurm partition
 * (held-allocation.ts).
 *
 * Round trips to the node are what a task costs beyond its process, so a
 * session is made ready ahead, while earlier tasks run: clone opened, its
 * number read, its env, wait, stdout and stderr walked and opened at once.
 * A task then costs four round trips of its own: env, exec, the wait (and
 * the outputs read with it), and the remove. Sessions made ahead are closed
 * once no task has run for IDLE_MS.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { quote, tokenize } from '../ns/quote.js';
import { RemoteNode, SpareFid, type RemoteFile, type WalkedFid } from '../ninep/remote.js';
import type { TaskRun } from './worker.js';

/** How long sessions made ahead are kept with no task running. */
const IDLE_MS = 1000;

/** A session on the node, ready for a task's env and exec. */
interface Ready {
  clone: RemoteFile;
  /** Walked to remove exactly this session: its number may be reused once the clone handle closes. */
  dir: WalkedFid;
  env: RemoteFile;
  wait: RemoteFile;
  stdout: RemoteFile;
  stderr: RemoteFile;
}

const READ = { read: true, write: false };

export class ChildTasks {
  private readonly root: RemoteNode;
  private readonly spareClone: SpareFid;
  /** Sessions made ahead, at most one per task running. */
  private readonly ahead: Promise<Ready>[] = [];
  private running = 0;
  private idle?: NodeJS.Timeout;

  constructor(
    root: Node,
    /** Names the node in errors. */
    private readonly where: string,
  ) {
    if (!(root instanceof RemoteNode)) throw new FsError('EIO', `${where}: not a node over 9P`);
    this.root = root;
    this.spareClone = new SpareFid(root.at('clone'));
  }

  /** Runs `t` in a session of the node; resolves with its wait status. */
  async run(t: TaskRun): Promise<string> {
    this.running++;
    clearTimeout(this.idle);
    const ready = this.ahead.shift() ?? this.makeReady();
    // The next task's session is made while this one runs.
    if (this.ahead.length < this.running) {
      const next = this.makeReady();
      next.catch(() => undefined); // the task that takes it sees the failure
      this.ahead.push(next);
    }
    let s: Ready | undefined;
    const kill = () => void s?.clone.write(Buffer.from('kill\n'), 0).catch(() => undefined);
    try {
      s = await ready;
      const env = Object.entries(t.env)
        .map(([k, v]) => `${k}=${v}\n`)
        .join('');
      await s.env.write(Buffer.from(env), 0);
      await s.clone.write(Buffer.from(`exec ${t.argv.map(quote).join(' ')}\n`), 0);
      t.signal.addEventListener('abort', kill, { once: true });
      // All three at once: each ends when the process does.
      const [wait, out, err] = await Promise.all([
        copyOut(s.wait),
        copyOut(s.stdout, t.outPath),
        copyOut(s.stderr, t.errPath),
      ]);
      t.ends = { out: out.end, err: err.end };
      return tokenize(wait.data.toString().split('\n')[0]!)[4] ?? '';
    } finally {
      t.signal.removeEventListener('abort', kill);
      if (s) await closeReady(s);
      if (--this.running === 0) this.idle = setTimeout(() => void this.close(), IDLE_MS);
    }
  }

  /** Closes the sessions made ahead. */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const ahead = this.ahead.splice(0);
    await Promise.all(ahead.map((r) => r.then(closeReady, () => undefined)));
  }

  /** A new session, its files open: four round trips, none of them a task's. */
  private async makeReady(): Promise<Ready> {
    const clone = await this.spareClone.take().open({ read: true, write: true });
    try {
      const id = (await clone.read(0, 32)).toString().trim();
      const dir = this.root.at(id);
      const files = await Promise.allSettled([
        dir.at('env').open({ read: false, write: true }),
        dir.at('wait').open(READ),
        dir.at('stdout').open(READ),
        dir.at('stderr').open(READ),
      ]);
      const failed = files.find((f): f is PromiseRejectedResult => f.status === 'rejected');
      const open = files.flatMap((f) => (f.status === 'fulfilled' ? [f.value] : []));
      const walked = dir.prewalk();
      if (failed) {
        await Promise.all([...open.map((f) => f.close()), walked.remove().catch(() => undefined)]);
        const e = asFsError(failed.reason);
        throw new FsError(e.code, `${this.where}: session ${id}: ${e.message}`);
      }
      const [env, wait, stdout, stderr] = open as [RemoteFile, RemoteFile, RemoteFile, RemoteFile];
      return { clone, dir: walked, env, wait, stdout, stderr };
    } catch (err) {
      await clone.close().catch(() => undefined);
      throw err;
    }
  }
}

/** Removed while the clone handle still holds it, then the handle and the files closed, all at once. */
async function closeReady(s: Ready): Promise<void> {
  await Promise.all(
    [s.dir.remove(), s.clone.close(), s.env.close(), s.wait.close(), s.stdout.close(), s.stderr.close()].map((p) =>
      p.catch(() => undefined),
    ),
  );
}

/**
 * What a task that threw ended as: a failure of the connection (or a lost
 * node, `lost`) is the worker's loss, not the task's, and is thrown on so
 * the task goes back to the queue; anything else fails the task.
 */
export function taskEnd(err: unknown, lost: string | undefined): string {
  const e = asFsError(err);
  if (lost || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT') throw new Error(lost ?? e.message);
  return `fail: ${e.message}`;
}

/**
 * Reads a file to its end: into `path` when given (nothing made for no
 * bytes), else returned; with its length and last byte.
 */
async function copyOut(file: RemoteFile, path?: string): Promise<{ data: Buffer; end: [number, number | undefined] }> {
  const parts: Buffer[] = [];
  let sink: ReturnType<typeof createWriteStream> | undefined;
  let offset = 0;
  let last: number | undefined;
  try {
    for (;;) {
      const data = await file.read(offset, 64 * 1024);
      if (data.length === 0) break;
      offset += data.length;
      last = data[data.length - 1];
      if (!path) parts.push(data);
      else {
        sink ??= createWriteStream(path);
        if (!sink.write(data)) await once(sink, 'drain');
      }
    }
  } finally {
    if (sink) {
      sink.end();
      await once(sink, 'close');
    }
  }
  return { data: Buffer.concat(parts), end: [offset, last] };
}
