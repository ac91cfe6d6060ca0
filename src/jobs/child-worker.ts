/**
 * A child node (mounted with --remote or `mount`, or joined with `taskfs
 * join`) as a worker: each task is the child's own work, one leaf session
 * through the child's clone (child-task.ts). Its capacity is what the
 * child's `status` reports. A child whose root runs nothing but that lends
 * hosts (a Slurm partition) runs its tasks in an allocation held while
 * they come (held-allocation.ts).
 */
import type { LeafSource } from '../nodes/leaf-source.js';
import { ChildTasks, taskEnd } from './child-task.js';
import { HeldAllocation } from './held-allocation.js';
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
  private readonly held?: HeldAllocation;
  private readonly tasks?: ChildTasks;

  constructor(private readonly child: LeafSource) {
    this.attrs = new Map(joinedAttrs.get(child));
    if (child.allocate)
      this.held = new HeldAllocation(
        child.name,
        (n) => child.allocate!(n),
        () => void this.refresh(),
      );
    else this.tasks = new ChildTasks(child.root, child.name);
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

  /** While an allocation is held, its CPUs (the partition no longer counts them idle). */
  slots(): number {
    return this.held?.size || this.capacity;
  }

  free(): number {
    return this.lost ? 0 : Math.max(0, this.slots() - this.busy);
  }

  async run(t: TaskRun): Promise<string> {
    this.busy++;
    try {
      if (this.held) return await this.held.run(t, this.slots());
      return await this.tasks!.run(t);
    } catch (err) {
      return taskEnd(err, this.lost);
    } finally {
      this.busy--;
      this.changed?.();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.held?.release(), this.tasks?.close()]);
  }
}
