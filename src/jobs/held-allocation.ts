/**
 * Jobs on a source whose own root runs nothing, a Slurm partition (README
 * "Jobs: where tasks run"): the first task asks it for an allocation of
 * its capacity, the tasks that follow share that allocation's hosts (each
 * task a session through a host's clone, up to the host's CPUs), and once
 * no task has run for IDLE_MS the allocation is given back. One allocation
 * per task would be simpler, but each costs a salloc, an srun and a node
 * start per host (0.5-2.5 s on the test cluster), so a job of short tasks
 * would spend its time waiting on Slurm; held, a task costs what a task on
 * any child node costs.
 */
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import type { AllocatedNode, Allocation } from '../nodes/leaf-source.js';
import { ChildTasks } from './child-task.js';
import type { TaskRun } from './worker.js';

const log = createDebug('taskfs:jobs');

/** How long an allocation with no task running is kept for the next one (the scheduler hands out at once). */
export const IDLE_MS = 2000;

export class HeldAllocation {
  /** The allocation asked for or held, and its CPUs; undefined when none is. */
  private current?: { size: number; allocation: Promise<Allocation> };
  private readonly busyOn = new Map<AllocatedNode, number>();
  private readonly tasksOn = new Map<AllocatedNode, ChildTasks>();
  private running = 0;
  private idle?: NodeJS.Timeout;

  constructor(
    private readonly name: string,
    private readonly allocate: (tasks: number) => Promise<Allocation>,
    /** Told when an allocation has been given back: the source's capacity changed. */
    private readonly released: () => void,
  ) {}

  /** CPUs of the allocation asked for or held (0 without one): the worker's capacity meanwhile. */
  get size(): number {
    return this.current?.size ?? 0;
  }

  /** Runs `t` on a host of the allocation, asking for one of `size` CPUs if none is held. */
  async run(t: TaskRun, size: number): Promise<string> {
    this.running++;
    clearTimeout(this.idle);
    try {
      const allocation = await this.hold(size);
      if (t.signal.aborted) return 'killed';
      const host = this.pick(allocation);
      this.busyOn.set(host, (this.busyOn.get(host) ?? 0) + 1);
      try {
        let tasks = this.tasksOn.get(host);
        if (!tasks) this.tasksOn.set(host, (tasks = new ChildTasks(host.root, `${this.name}: ${host.name}`)));
        return await tasks.run(t);
      } finally {
        this.busyOn.set(host, this.busyOn.get(host)! - 1);
      }
    } finally {
      if (--this.running === 0) this.idle = setTimeout(() => void this.release(), IDLE_MS);
    }
  }

  /** Gives the allocation back (the worker leaves, or it has been idle). */
  async release(): Promise<void> {
    clearTimeout(this.idle);
    const held = this.current;
    if (!held) return;
    this.current = undefined;
    const allocation = await held.allocation.catch(() => undefined);
    if (!allocation) return;
    await Promise.all(allocation.hosts.map((h) => this.tasksOn.get(h)?.close()));
    for (const h of allocation.hosts) {
      this.busyOn.delete(h);
      this.tasksOn.delete(h);
    }
    log('%s: allocation given back', this.name);
    await allocation.release().catch((err: Error) => log('%s: release: %s', this.name, err.message));
    this.released();
  }

  private hold(size: number): Promise<Allocation> {
    if (this.current) return this.current.allocation;
    const allocation = this.allocate(size);
    const held = { size, allocation };
    this.current = held;
    allocation.then(
      (a) => {
        log('%s: %d CPUs held for jobs on %s', this.name, size, a.hosts.map((h) => h.name).join(' '));
        // A host lost: the allocation is of no more use; its tasks go back to the queue.
        a.lostSignal.addEventListener('abort', () => this.current === held && void this.release(), { once: true });
      },
      () => this.current === held && (this.current = undefined),
    );
    return allocation;
  }

  /** The host with the most CPUs free. */
  private pick(allocation: Allocation): AllocatedNode {
    const free = (h: AllocatedNode) => h.slots - (this.busyOn.get(h) ?? 0);
    const host = allocation.hosts.reduce((a, b) => (free(b) > free(a) ? b : a), allocation.hosts[0]!);
    if (!host) throw new FsError('EIO', `${this.name}: an allocation with no host`);
    return host;
  }
}
