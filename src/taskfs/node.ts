/**
 * A taskfs node: its sessions, its settings, and where the leaves of a
 * reservation come from. The tree it serves is built in node-files.ts.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { machine, type } from 'node:os';
import createDebug from 'debug';
import { allOrNone } from '../ns/all-or-none.js';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node, OpenFile } from '../ns/types.js';
import { ChildNode } from '../nodes/child-node.js';
import type { LeafSource } from '../nodes/leaf-source.js';
import { formatCapacity, matches, shares, sumCapacity, usable, type CapacityLine } from '../nodes/distribute.js';
import { reserveLocalSlots } from './local-slots.js';
import type { BoundSession } from '../nodes/bound-session.js';
import { lazyDir } from '../ns/lazy-dir.js';
import { SyntheticDir, renamed } from '../ns/synthetic.js';
import { nodeRoot } from './node-files.js';
import { sessionDir } from './session-files.js';
import { Spawner } from '../exec/spawner.js';
import { Session, type ResRequest } from './session.js';
import { Staging } from './staging.js';
import { ctlWrite } from './verbs.js';

const log = createDebug('taskfs:node');

/** Qid paths of import trees and `up/` entries: their own range, below mailboxes (1 << 60). */
const IMPORT_QID = 1n << 58n;

export interface NodeOptions {
  name: string;
  /** Leaf capacity of this node. */
  slots: number;
  /** Refuse a reservation beyond `slots` instead of oversubscribing. */
  strictSlots: boolean;
  /** Spools and default working directory live here. */
  workdir: string;
  /** The fork server binary (build/taskfs-spawnd). */
  spawndPath: string;
  /** Limits; each can be changed at run time with `limit NAME N` on the node ctl. */
  limits?: Partial<Limits>;
}

export interface Limits {
  /** Sessions on this node, local leaves included. */
  sessions: number;
  /** Leaves one `res` may ask for. */
  leaves: number;
  /** Bytes one leaf may spool (stdout + stderr) before it is paused; 0 for none. */
  spool: number;
}

export const defaultLimits: Limits = { sessions: 10_000, leaves: 4096, spool: 16 * 1024 ** 3 };

export class TaskNode {
  readonly sessions = new Map<number, Session>();
  /** Child nodes by name, in mount order: where reservations go when there are any. */
  readonly childNodes = new Map<string, LeafSource>();
  /**
   * Child nodes that could not be mounted, or were lost, by name: `ns` and
   * `status` show them (README "SSH and hostlists") until they are mounted
   * again or unmounted.
   */
  readonly downChildren = new Map<string, string>();
  readonly root: Node;
  /** fs/: files every leaf gets in its working directory (README "Staging"). */
  readonly staging: Staging;
  readonly os = type();
  readonly machine = machine();
  readonly limits: Limits;
  /** Where the node is mounted through FUSE, when it is: processes get paths into it. */
  mountpoint?: string;
  /**
   * On a node without a mount: a private 9P address its leaves reach it at
   * (TASKFS_NODE), where TASKFS_ROOT and the other paths are served.
   */
  leafAddress?: string;
  envText = '';
  /**
   * Directories layers above this one add to the node's root (`jobs/`),
   * listed after the node's own files.
   */
  readonly extraDirs = new Map<string, Node>();
  /**
   * Told when a slot may have freed (a session left the node) and when a
   * child node comes: the job scheduler above hands out the same capacity.
   */
  readonly watchers = { slotFreed: new Set<() => void>(), childAdded: new Set<(child: LeafSource) => void>() };
  /**
   * The daemon's environment, read once: every leaf starts from it
   * (process.env is a slow, syscall-backed object to copy per leaf).
   */
  readonly baseEnv: Readonly<Record<string, string>> = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  debug = 0;
  private nextSerial = 1;
  private stopping = false;

  constructor(readonly opts: NodeOptions) {
    this.limits = { ...defaultLimits, ...opts.limits };
    this.staging = new Staging(join(opts.workdir, 'fs'));
    this.root = nodeRoot(this);
  }

  private spawnerValue?: Spawner;

  /** The fork server every leaf of this node is started by (running between start and stop). */
  get spawner(): Spawner {
    if (!this.spawnerValue) throw new FsError('EIO', 'node is not running');
    return this.spawnerValue;
  }

  /** Per process, so several nodes may share a workdir. */
  get spoolDir(): string {
    return join(this.opts.workdir, 'spool', String(process.pid));
  }

  get defaultDir(): string {
    return join(this.opts.workdir, 'work');
  }

  /** Leaves' own working directories, by session serial; per process like spools. */
  get leavesDir(): string {
    return join(this.opts.workdir, 'leaves', String(process.pid));
  }

  /** What sessions collected (their fs/out/), by session serial; per process like spools. */
  get outDir(): string {
    return join(this.opts.workdir, 'out', String(process.pid));
  }

  async start(): Promise<void> {
    for (const kind of ['spool', 'leaves', 'out']) await removeDeadSpools(join(this.opts.workdir, kind));
    for (const dir of [this.spoolDir, this.leavesDir]) await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(this.defaultDir, { recursive: true, mode: 0o700 });
    await this.staging.start();
    await this.startSpawner();
  }

  /**
   * The process server, and another when it dies (killed by hand, by the
   * OOM killer): its leaves die with it and say so in their wait lines, and
   * the node goes on starting new ones. A server that dies within a second
   * of starting is restarted a second later, not in a loop.
   */
  private async startSpawner(): Promise<void> {
    const started = Date.now();
    const spawner = await Spawner.start(this.opts.spawndPath);
    spawner.setSpoolLimit(this.limits.spool);
    this.spawnerValue = spawner;
    void spawner.died.then((why) => {
      if (this.stopping) return;
      process.stderr.write(`taskfs: ${why}: starting another\n`);
      const restart = () => {
        if (!this.stopping) this.startSpawner().catch((err: Error) => process.stderr.write(`taskfs: ${err.message}\n`));
      };
      if (Date.now() - started < 1000) setTimeout(restart, 1000).unref();
      else restart();
    });
  }

  /** Kill everything and forget every session. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.allSettled([...this.sessions.values()].map((s) => s.remove()));
    await Promise.allSettled([...this.childNodes.values()].map((c) => c.close()));
    this.childNodes.clear();
    await this.spawnerValue?.close();
    await Promise.allSettled(
      [this.spoolDir, this.leavesDir, this.outDir].map((d) => rm(d, { recursive: true, force: true })),
    );
  }

  /** The lowest free number: absent, or a Closed session nobody looks at. */
  private createSession(): Session {
    if (this.stopping) throw new FsError('EIO', 'node is stopping');
    let id = 0;
    for (;;) {
      const s = this.sessions.get(id);
      if (!s || s.reusable) break;
      id++;
    }
    if (!this.sessions.has(id) && this.sessions.size >= this.limits.sessions) {
      throw new FsError('ENOSPC', `too many sessions: this node's limit is ${this.limits.sessions} (limit sessions N)`);
    }
    this.sessions.get(id)?.remove();
    const session = new Session(this, id, this.nextSerial++);
    this.sessions.set(id, session);
    log('session %d created', id);
    return session;
  }

  forget(session: Session): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    for (const w of this.watchers.slotFreed) w();
  }

  /**
   * Open the clone file: a new session whose ctl this handle is. The handle
   * owns what the session reserves: closing it releases (README "Lifetime").
   */
  openClone(): { session: Session; handle: OpenFile } {
    const session = this.createSession();
    session.opened('clone');
    let closed = false;
    const handle: OpenFile = {
      read: async (offset, count) => {
        const text = Buffer.from(String(session.id));
        return text.subarray(Math.min(offset, text.length), offset + count);
      },
      write: async (data) => {
        await ctlWrite(session, data.toString());
        return data.length;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await session.closed('clone');
      },
    };
    return { session, handle };
  }

  checkMatch(os: string, mach: string): void {
    if (!matches(os, this.os) || !matches(mach, this.machine)) {
      throw new FsError('ENOSPC', `no resources matching ${os} ${mach} (this node is ${this.os} ${this.machine})`);
    }
  }

  /**
   * The children for `res N` (N > 0), numbered from `firstIndex`: local
   * slots on a node with no child nodes, else shares of N among the child
   * nodes by capacity (README "Many machines"), all or nothing.
   */
  async reserveChildren(parent: Session, req: ResRequest, firstIndex: number): Promise<BoundSession[]> {
    if (req.placed.length > 0) return this.reservePlaced(req);
    const nodes = [...this.childNodes.values()].filter((c) => !c.lost);
    if (nodes.length === 0) {
      this.checkMatch(req.os, req.machine);
      return reserveLocalSlots(this, parent, req.count, firstIndex);
    }
    const capacities = await Promise.all(
      nodes.map(async (c) => usable(await c.capacity().catch(() => []), req.os, req.machine)),
    );
    if (capacities.every((c) => c === 0)) {
      throw new FsError('ENOSPC', `no child node has resources matching ${req.os} ${req.machine}`);
    }
    const split = shares(req.count, capacities);
    const granted = await allOrNone(
      nodes.flatMap((node, i) => (split[i]! > 0 ? [node.reserve(split[i]!, req.os, req.machine)] : [])),
      (c) => c.release(),
    );
    log('res %d: shares %o', req.count, split);
    return granted;
  }

  /**
   * Shares placed by child node name (`res 2@a 1@b optional`): all or
   * nothing for the required ones; an optional share that cannot be had is
   * left out.
   */
  private async reservePlaced(req: ResRequest): Promise<BoundSession[]> {
    for (const share of req.placed) {
      const child = this.childNodes.get(share.node);
      if (!child && !share.optional) {
        const known = [...this.childNodes.keys()].join(' ') || 'none';
        throw new FsError('ENOENT', `res: no child node ${share.node} (child nodes: ${known})`);
      }
    }
    const results = await Promise.allSettled(
      req.placed.map(async (share) => {
        const child = this.childNodes.get(share.node);
        if (!child || child.lost) throw new FsError('EIO', `${share.node}: ${child?.lost ?? 'not mounted'}`);
        const bound = await child.reserve(share.count, req.os, req.machine);
        return share.optional ? { ...bound, optional: true } : bound;
      }),
    );
    const granted: BoundSession[] = [];
    let failure: unknown;
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') granted.push(r.value);
      else if (!req.placed[i]!.optional) failure ??= r.reason;
      else log('res: optional share %d@%s left out: %s', req.placed[i]!.count, req.placed[i]!.node, r.reason);
    }
    if (failure !== undefined || granted.length === 0) {
      await Promise.allSettled(granted.map((c) => c.release()));
      throw failure ?? new FsError('ENOSPC', 'res: no share could be had');
    }
    return granted;
  }

  /**
   * The tree a child machine's session reaches through its import
   * (nodes/uplink.ts): `parent`, the session that holds it, and `root`,
   * the root session as this node reaches it.
   */
  importTree(parent: Session): Node {
    const top = parent.topSession();
    const root = top.uplink?.connected ? this.upDir(top, 'root') : this.sessionNode(top);
    const entries = [
      ['root', renamed(root, 'root')],
      ['parent', renamed(this.sessionNode(parent), 'parent')],
    ] as const;
    return new SyntheticDir({ name: '/', qidPath: IMPORT_QID | BigInt(parent.serial), entries: () => entries });
  }

  /** `up/N/NAME`: what session N's parent serves it, reached on first use. */
  upDir(session: Session, name: string): Node {
    const tree = async () => {
      const t = await session.uplink!.tree();
      const node = await t.walk?.(name);
      if (!node) throw new FsError('ENOENT', `up/${session.id}/${name}: not served by the parent`);
      return node;
    };
    return lazyDir(name, IMPORT_QID | (BigInt(session.serial) << 2n) | (name === 'root' ? 1n : 2n), tree);
  }

  /** Each session's directory, made once and kept with it. */
  sessionNode(s: Session): Node {
    let dir = this.sessionDirs.get(s);
    if (!dir) this.sessionDirs.set(s, (dir = sessionDir(s, String(s.id))));
    return dir;
  }

  private readonly sessionDirs = new WeakMap<Session, Node>();

  /**
   * How an address becomes a child node. TCP and unix by default; the
   * command line adds other ways of reaching a node (ssh, Slurm) by
   * wrapping this, since those live above this layer.
   */
  connectChild: (name: string, addr: string) => Promise<LeafSource> = (name, addr) => ChildNode.connect(name, addr);

  /** Mount a child node: its root appears as nodes/NAME and it takes shares of reservations. */
  async mountChild(addr: string, name: string): Promise<void> {
    this.adoptChild(await this.dialChild(addr, name));
  }

  /**
   * Mounts several children at once (`--hosts`): dialed in parallel,
   * adopted in the order given, so that their order in `ns`, and so their
   * ranks, follows the list. Resolves with each one's error (it is down
   * then), or undefined where it came up.
   */
  async mountChildren(list: readonly { addr: string; name: string }[]): Promise<(FsError | undefined)[]> {
    const dialed = await Promise.allSettled(list.map(({ addr, name }) => this.dialChild(addr, name)));
    return dialed.map((d, i) => {
      try {
        if (d.status === 'rejected') {
          // Listed as down in the order given, not as the failures came.
          const { name } = list[i]!;
          const why = this.downChildren.get(name);
          if (this.downChildren.delete(name)) this.downChildren.set(name, why!);
          throw d.reason;
        }
        this.adoptChild(d.value);
        return undefined;
      } catch (err) {
        return asFsError(err);
      }
    });
  }

  /** A connected child, or the reason it is down (kept for `ns` and `status`). */
  private async dialChild(addr: string, name: string): Promise<LeafSource> {
    if (!/^[\w.-]+$/.test(name)) throw new FsError('EINVAL', `mount: bad node name ${JSON.stringify(name)}`);
    if (this.childNodes.has(name)) throw new FsError('EEXIST', `mount: ${name} is already mounted`);
    try {
      return await this.connectChild(name, addr);
    } catch (err) {
      const e = asFsError(err);
      // A bad address is a mistake in the request, not a child that is down.
      if (e.code !== 'EINVAL') this.downChildren.set(name, oneLine(e.message));
      throw e;
    }
  }

  /** Takes a child node already connected (a worker that dialed in, say) under its own name. */
  adoptChild(child: LeafSource): void {
    const name = child.name;
    if (this.childNodes.has(name)) {
      void child.close();
      throw new FsError('EEXIST', `mount: ${name} is already mounted`);
    }
    this.childNodes.set(name, child);
    this.downChildren.delete(name);
    for (const w of this.watchers.childAdded) w(child);
    void child.lostSignal.addEventListener('abort', () => {
      if (this.childNodes.get(name) !== child) return;
      this.childNodes.delete(name);
      if (!this.stopping) this.downChildren.set(name, oneLine(`lost: ${child.lost}`));
    });
  }

  async unmountChild(name: string): Promise<void> {
    const child = this.childNodes.get(name);
    if (!child) {
      if (this.downChildren.delete(name)) return;
      throw new FsError('ENOENT', `unmount: no child node ${name}`);
    }
    this.childNodes.delete(name);
    await child.close();
  }

  /** Slots bound into sessions or held by job tasks: what `--strict-slots` and the job scheduler count. */
  slotsInUse(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.boundIn || s.slotHolder) n++;
    return n;
  }

  /**
   * Leaf capacity reachable below this node: its own slots when it has no
   * child nodes, else the sum of what its children report (a node with
   * children hands every leaf to them).
   */
  async capacity(): Promise<CapacityLine[]> {
    const nodes = [...this.childNodes.values()].filter((c) => !c.lost);
    if (nodes.length === 0) return [{ count: this.opts.slots, os: this.os, machine: this.machine }];
    return sumCapacity(await Promise.all(nodes.map((c) => c.capacity().catch(() => []))));
  }

  /** Capacity lines, then a `down NAME REASON` line per child that is down (parents read only the former). */
  async capacityText(): Promise<string> {
    return formatCapacity(await this.capacity()) + this.downLines('');
  }

  /** `mount ADDR NAME` lines, then the children that are down as comments, which ctl skips. */
  nsText(): string {
    return [...this.childNodes.values()].map((c) => c.mountLine() + '\n').join('') + this.downLines('# ');
  }

  private downLines(prefix: string): string {
    return [...this.downChildren].map(([name, why]) => `${prefix}down ${name} ${why}\n`).join('');
  }

  setLimit(name: string, value: number): void {
    if (!(name in this.limits)) throw new FsError('EINVAL', `limit: unknown limit ${name} (sessions, leaves, spool)`);
    this.limits[name as keyof Limits] = value;
    if (name === 'spool') this.spawnerValue?.setSpoolLimit(value);
  }

  settings(): string {
    return [
      `name ${this.opts.name}`,
      `slots ${this.opts.slots}`,
      `strictslots ${this.opts.strictSlots ? 1 : 0}`,
      `debug ${this.debug}`,
      `workdir ${this.opts.workdir}`,
      ...Object.entries(this.limits).map(([k, v]) => `limit ${k} ${v}`),
      '',
    ].join('\n');
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** Spools (and leaf and out directories) of nodes that died without cleaning up: nobody can name them any more. */
async function removeDeadSpools(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/** Whether process `pid` is alive (EPERM: alive, someone else's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
