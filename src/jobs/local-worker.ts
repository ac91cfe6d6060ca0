/**
 * The node's own slots as a worker: each task is a leaf session of the
 * node (it shows in the root while it runs), holding one of the slots that
 * `res` counts, so a slot busy with a task is busy for sessions and the
 * other way round. Its output spools are renamed to the job's out/ID and
 * errout/ID when it ends: no copy.
 */
import { rename } from 'node:fs/promises';
import { asFsError } from '../ns/errors.js';
import type { TaskNode } from '../taskfs/node.js';
import { tokenize } from '../ns/quote.js';
import type { TaskRun, Worker } from './worker.js';

export class LocalWorker implements Worker {
  readonly attrs: Map<string, string>;
  private closedWhy?: string;
  changed?: () => void;
  private readonly onFreed = () => this.changed?.();

  constructor(private readonly node: TaskNode) {
    this.attrs = new Map([
      ['os', node.os],
      ['machine', node.machine],
    ]);
    node.watchers.slotFreed.add(this.onFreed);
  }

  get name(): string {
    return this.node.opts.name;
  }

  get lost(): string | undefined {
    return this.closedWhy;
  }

  slots(): number {
    return this.node.opts.slots;
  }

  free(): number {
    return Math.max(0, this.node.opts.slots - this.node.slotsInUse());
  }

  async run(t: TaskRun): Promise<string> {
    const { session, handle } = this.node.openClone();
    session.slotHolder = `job ${t.job} task ${t.task}`;
    const kill = () => void session.kill();
    t.signal.addEventListener('abort', kill, { once: true });
    try {
      await session.setText(
        'env',
        Object.entries(t.env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
        false,
      );
      try {
        await session.exec([...t.argv]);
      } catch (err) {
        return `fail: ${asFsError(err).message}`;
      }
      const run = session.run!;
      await run.wait.waitFor(0);
      const words = tokenize((await run.wait.read(0, 4096)).toString().split('\n')[0]!);
      if (this.closedWhy) throw new Error(this.closedWhy);
      await Promise.all([
        run.stdout.length > 0 ? rename(run.stdout.path, t.outPath) : undefined,
        run.stderr.length > 0 ? rename(run.stderr.path, t.errPath) : undefined,
      ]);
      return words[4] ?? '';
    } finally {
      t.signal.removeEventListener('abort', kill);
      await handle.close();
      await session.remove();
    }
  }

  async close(): Promise<void> {
    this.closedWhy ??= `${this.name}: left`;
    this.node.watchers.slotFreed.delete(this.onFreed);
    for (const s of [...this.node.sessions.values()]) if (s.slotHolder) await s.kill();
  }
}
