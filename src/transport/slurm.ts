/**
 * A Slurm partition as a child of a node (`--slurm PARTITION`, README
 * "Slurm"): its capacity is the partition's idle CPUs as sinfo says; `res
 * N` on it is an allocation of N tasks, one `taskfs serve --stdio` per
 * allocated host started in it by srun, and the hosts' leaves bound as one
 * session; releasing that session ends the allocation.
 */
import { tmpdir } from 'node:os';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import { textHandle } from '../ns/handles.js';
import { SyntheticDir, SyntheticFile, renamed } from '../ns/synthetic.js';
import type { Node } from '../ns/types.js';
import type { ChildNode } from '../nodes/child-node.js';
import { formatCapacity, sumCapacity, type CapacityLine } from '../nodes/distribute.js';
import type { Allocation, LeafSource } from '../nodes/leaf-source.js';
import type { BoundSession } from '../nodes/bound-session.js';
import { TaskNode } from '../taskfs/node.js';
import { quote } from '../ns/quote.js';
import { SlurmAllocation, type SlurmSettings } from './slurm-allocation.js';
import { parseIdleCpus, parseNodeKinds, runSlurm, type SlurmNodeKind } from './slurm-commands.js';

export type { SlurmSettings } from './slurm-allocation.js';

const log = createDebug('taskfs:slurm');

/** How long sinfo's answer is taken as still true: a reservation asks every child at once. */
const CAPACITY_TTL_MS = 1000;

/** The job name of every allocation taskfs holds: what squeue shows. */
export const JOB_NAME = 'taskfs';

/** Qid paths of the partition's own files, far from a node's session serials. */
const QID_BASE = 0x51_0000_0000n;

/** An allocation held by a reservation, and the hosts' child nodes in it. */
interface Held {
  allocation: SlurmAllocation;
  hosts: ChildNode[];
}

export class SlurmPartition implements LeafSource {
  readonly root: Node;
  readonly lost = undefined;
  private readonly lostCtl = new AbortController();
  private readonly held = new Set<Held>();
  private known?: { at: number; lines: CapacityLine[] };
  /** Aborted when the partition is closed: requests still queued are withdrawn. */
  private readonly closingCtl = new AbortController();

  private constructor(
    readonly name: string,
    private readonly settings: SlurmSettings,
    private readonly kinds: Map<string, SlurmNodeKind>,
  ) {
    this.root = this.makeRoot();
  }

  /** The partition, if the cluster answers and knows it; else why not. */
  static async open(name: string, settings: SlurmSettings): Promise<SlurmPartition> {
    const { partition } = settings;
    const known = (await runSlurm('sinfo', ['-h', '-o', '%R'])).split('\n').filter(Boolean);
    if (!known.includes(partition)) {
      throw new FsError('ENOENT', `slurm: no partition ${partition} (sinfo knows: ${known.join(' ') || 'none'})`);
    }
    const kinds = parseNodeKinds(await runSlurm('scontrol', ['-o', 'show', 'node']));
    return new SlurmPartition(name, settings, kinds);
  }

  get lostSignal(): AbortSignal {
    return this.lostCtl.signal;
  }

  /** Idle CPUs of the partition's nodes, by kind (sinfo). */
  async capacity(): Promise<CapacityLine[]> {
    const now = Date.now();
    if (!this.known || now - this.known.at > CAPACITY_TTL_MS) {
      const idle = parseIdleCpus(await runSlurm('sinfo', ['-h', '-N', '-p', this.settings.partition, '-o', '%N %C']));
      const lines = [...idle].map(([node, count]) => ({ count, ...this.kindOf(node) }));
      this.known = { at: now, lines: sumCapacity([lines]) };
    }
    return this.known.lines;
  }

  private kindOf(node: string): SlurmNodeKind {
    return this.kinds.get(node) ?? { os: 'unknown', machine: 'unknown' };
  }

  /**
   * An allocation of `share` tasks, a serve on each of its hosts, and
   * their leaves as one session: the host's own session when the
   * allocation has one host, else a session spanning the hosts.
   */
  async reserve(share: number, os: string, machine: string): Promise<BoundSession> {
    const held = await this.hold(share);
    try {
      const bound =
        held.hosts.length === 1
          ? await held.hosts[0]!.reserve(share, os, machine)
          : await spanHosts(held.hosts, share, os, machine, held.allocation.jobId);
      log('%s: job %s holds %d leaves', this.name, held.allocation.jobId, share);
      return {
        ...bound,
        release: async () => {
          await bound.release().catch(() => undefined);
          await this.end(held);
        },
      };
    } catch (err) {
      await this.end(held);
      throw err;
    }
  }

  /**
   * For jobs: an allocation of `tasks` CPUs whose hosts' nodes run tasks
   * through their own clones, each up to its share of the tasks.
   */
  async allocate(tasks: number): Promise<Allocation> {
    const held = await this.hold(tasks);
    const lost = new AbortController();
    for (const h of held.hosts) h.lostSignal.addEventListener('abort', () => lost.abort(), { once: true });
    log('%s: job %s lent to jobs', this.name, held.allocation.jobId);
    return {
      hosts: held.hosts.map((h, i) => ({ name: h.name, root: h.root, slots: held.allocation.hosts[i]!.tasks })),
      lostSignal: lost.signal,
      release: () => this.end(held),
    };
  }

  /** An allocation of `tasks` tasks with a serve started on each of its hosts, in host order. */
  private async hold(tasks: number): Promise<Held> {
    if (this.closingCtl.signal.aborted) throw new FsError('EIO', `${this.name}: stopping`);
    const allocation = await SlurmAllocation.request(this.settings, tasks, JOB_NAME, this.closingCtl.signal);
    const held: Held = { allocation, hosts: [] };
    this.held.add(held);
    this.known = undefined;
    try {
      if (this.closingCtl.signal.aborted) throw new FsError('EIO', `${this.name}: stopping`);
      const started = await Promise.allSettled(
        allocation.hosts.map((h) => allocation.connectHost(h, `${allocation.jobId}.${h.name}`)),
      );
      held.hosts = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return held;
    } catch (err) {
      await this.end(held);
      throw err;
    }
  }

  /** Close the hosts' channels (their serves stop), then end the job. */
  private async end(held: Held): Promise<void> {
    this.held.delete(held);
    this.known = undefined;
    await Promise.allSettled(held.hosts.map((h) => h.close()));
    await held.allocation.end();
  }

  /** End every allocation still held. */
  async close(): Promise<void> {
    this.closingCtl.abort();
    await Promise.allSettled([...this.held].map((h) => this.end(h)));
  }

  mountLine(): string {
    return `mount slurm!${this.settings.partition} ${this.name}`;
  }

  /**
   * nodes/NAME: `partition` (sinfo's line for it), `allocations` (one line
   * per held job: JOBID then HOST:TASKS), and each allocated host's node
   * as JOBID.HOST.
   */
  private makeRoot(): Node {
    const file = (name: string, q: bigint, text: () => Promise<string> | string) =>
      [
        name,
        new SyntheticFile({
          name,
          qidPath: QID_BASE + q,
          perm: 0o444,
          open: async () => textHandle({ text: await text() }),
        }),
      ] as const;
    const files = [
      file('partition', 1n, () =>
        runSlurm('sinfo', ['-p', this.settings.partition]).catch((e: Error) => `${e.message}\n`),
      ),
      file('allocations', 2n, () =>
        [...this.held]
          .map(({ allocation: a }) => `${a.jobId} ${a.hosts.map((h) => `${h.name}:${h.tasks}`).join(' ')}\n`)
          .join(''),
      ),
      file('status', 3n, async () => formatCapacity(await this.capacity())),
    ];
    return new SyntheticDir({
      name: this.name,
      qidPath: QID_BASE,
      entries: () => [
        ...files,
        ...[...this.held].flatMap((h) => h.hosts.map((c) => [c.name, renamed(c.root, c.name)] as const)),
      ],
    });
  }
}

/**
 * One session over several hosts of an allocation: a node of its own
 * whose children are the hosts, reserving `share` there as any node with
 * child nodes does (each host gets its tasks, by the capacity it reports).
 * It runs nothing itself, so it is never started.
 */
async function spanHosts(
  hosts: ChildNode[],
  share: number,
  os: string,
  machine: string,
  jobId: string,
): Promise<BoundSession> {
  const node = new TaskNode({
    name: `slurm-${jobId}`,
    slots: 0,
    strictSlots: false,
    workdir: tmpdir(),
    spawndPath: '',
  });
  for (const h of hosts) node.adoptChild(h);
  const { session, handle } = node.openClone();
  const release = async () => {
    await handle.close();
    await session.remove();
  };
  try {
    await handle.write(Buffer.from(`res ${share} ${quote(os)} ${quote(machine)}\n`), 0);
    const dir = await node.root.walk!(String(session.id));
    if (!dir) throw new FsError('EIO', `slurm: job ${jobId}: its session is gone`);
    return { dir, ctl: handle, topology: session.topology(), release };
  } catch (err) {
    await release();
    throw err;
  }
}
