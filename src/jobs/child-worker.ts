/**
 * A child node (mounted with --remote or `mount`, or joined with `taskfs
 * join`) as a worker: each task is the child's own work, one leaf session
 * through the child's clone, exactly what a user of that node would do:
 * clone, env, exec, read wait, copy stdout and stderr, close. Its capacity
 * is what the child's `status` reports.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node, OpenFile } from '../ns/types.js';
import type { LeafSource } from '../nodes/leaf-source.js';
import { quote, tokenize } from '../ns/quote.js';
import type { TaskRun, Worker } from './worker.js';

/** Attributes a joined worker announced, by its child node (set by the join door before adoption). */
export const joinedAttrs = new WeakMap<LeafSource, Map<string, string>>();

const CAPACITY_REFRESH_MS = 5000;

export class ChildWorker implements Worker {
  readonly attrs: Map<string, string>;
  changed?: () => void;
  private capacity = 0;
  private busy = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly child: LeafSource) {
    this.attrs = new Map(joinedAttrs.get(child));
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), CAPACITY_REFRESH_MS).unref();
    child.lostSignal.addEventListener('abort', () => {
      clearInterval(this.timer);
      this.changed?.();
    });
  }

  get name(): string {
    return this.child.name;
  }

  get lost(): string | undefined {
    return this.child.lost;
  }

  private async refresh(): Promise<void> {
    const lines = await this.child.capacity().catch(() => []);
    const before = this.capacity;
    this.capacity = lines.reduce((n, l) => n + l.count, 0);
    if (lines[0]) {
      if (!this.attrs.has('os')) this.attrs.set('os', lines[0].os);
      if (!this.attrs.has('machine')) this.attrs.set('machine', lines[0].machine);
    }
    if (this.capacity > before) this.changed?.();
  }

  slots(): number {
    return this.capacity;
  }

  free(): number {
    return this.lost ? 0 : Math.max(0, this.capacity - this.busy);
  }

  async run(t: TaskRun): Promise<string> {
    this.busy++;
    try {
      return await this.runOnChild(t);
    } catch (err) {
      // A failure of the connection is the worker's loss, not the task's.
      const e = asFsError(err);
      if (this.lost || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT') throw new Error(this.lost ?? e.message);
      return `fail: ${e.message}`;
    } finally {
      this.busy--;
      this.changed?.();
    }
  }

  private async runOnChild(t: TaskRun): Promise<string> {
    const root = this.child.root;
    const clone = await openAt(root, 'clone', true);
    let dir: Node | undefined;
    const kill = () => void clone.write(Buffer.from('kill\n'), 0).catch(() => undefined);
    try {
      const id = (await clone.read(0, 32)).toString().trim();
      dir = await root.walk!(id);
      if (!dir) throw new FsError('EIO', `${this.name}: session ${id} vanished`);
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

  async close(): Promise<void> {
    clearInterval(this.timer);
  }
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
