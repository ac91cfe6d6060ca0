/**
 * One task as a node's own work (README "Jobs: where tasks run"): a leaf
 * session through the node's clone, exactly what a user of that node would
 * do: clone, env, exec, read wait, copy stdout and stderr, remove. Used for
 * child nodes (child-worker.ts) and for hosts lent by a Slurm partition
 * (allocation-worker.ts).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node, OpenFile } from '../ns/types.js';
import { quote, tokenize } from '../ns/quote.js';
import type { TaskRun } from './worker.js';

/** Runs `t` on the node whose root is `root` (named `where` in errors); resolves with its wait status. */
export async function runTaskAt(root: Node, where: string, t: TaskRun): Promise<string> {
  const clone = await openAt(root, 'clone', true);
  let dir: Node | undefined;
  const kill = () => void clone.write(Buffer.from('kill\n'), 0).catch(() => undefined);
  try {
    const id = (await clone.read(0, 32)).toString().trim();
    dir = await root.walk!(id);
    if (!dir) throw new FsError('EIO', `${where}: session ${id} vanished`);
    const env = Object.entries(t.env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join('');
    const envFile = await openAt(dir, 'env', true);
    await envFile.write(Buffer.from(env), 0).finally(() => envFile.close());
    await clone.write(Buffer.from(`exec ${t.argv.map(quote).join(' ')}\n`), 0);
    t.signal.addEventListener('abort', kill, { once: true });
    // All three at once: each ends when the process does.
    const [wait] = await Promise.all([
      copyOut(dir, 'wait'),
      copyOut(dir, 'stdout', t.outPath),
      copyOut(dir, 'stderr', t.errPath),
    ]);
    const words = tokenize(wait.toString().split('\n')[0]!);
    return words[4] ?? '';
  } finally {
    t.signal.removeEventListener('abort', kill);
    // Removed while the clone handle still holds it: once that closes, its number may go to the next task.
    await dir?.remove?.().catch(() => undefined);
    await clone.close().catch(() => undefined);
  }
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

async function openAt(dir: Node, name: string, write: boolean): Promise<OpenFile> {
  const node = await dir.walk!(name);
  if (!node?.open) throw new FsError('EIO', `no ${name} file`);
  return node.open({ read: true, write });
}

/** Reads a file to its end: into `path` when given (nothing made for no bytes), else returned. */
async function copyOut(dir: Node, name: string, path?: string): Promise<Buffer> {
  const node = await dir.walk!(name);
  if (!node?.open) throw new FsError('EIO', `no ${name} file`);
  const file = await node.open({ read: true, write: false });
  const parts: Buffer[] = [];
  let sink: ReturnType<typeof createWriteStream> | undefined;
  try {
    for (let offset = 0; ; ) {
      const data = await file.read(offset, 64 * 1024);
      if (data.length === 0) break;
      offset += data.length;
      if (!path) parts.push(data);
      else {
        sink ??= createWriteStream(path);
        if (!sink.write(data)) await once(sink, 'drain');
      }
    }
  } finally {
    void file.close();
    if (sink) {
      sink.end();
      await once(sink, 'close');
    }
  }
  return Buffer.concat(parts);
}
