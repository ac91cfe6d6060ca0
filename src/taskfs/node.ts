/**
 * A taskfs node: its sessions, its settings, and where the leaves of a
 * reservation come from. The tree it serves is built in node-files.ts.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { machine, type } from 'node:os';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import type { Node, OpenFile } from '../ns/types.js';
import { reserveLocalSlots } from '../nodes/local-slots.js';
import type { Child } from './child.js';
import { nodeRoot } from './node-files.js';
import { Session, type ResRequest } from './session.js';
import { ctlWrite } from './verbs.js';

const log = createDebug('taskfs:node');

export interface NodeOptions {
  name: string;
  /** Leaf capacity of this node. */
  slots: number;
  /** Refuse a reservation beyond `slots` instead of oversubscribing. */
  strictSlots: boolean;
  /** Spools and default working directory live here. */
  workdir: string;
  /** The exec helper binary (build/taskfs-run). */
  helperPath: string;
  /** Leaves one `res` may ask for. */
  maxLeaves?: number;
}

export class TaskNode {
  readonly sessions = new Map<number, Session>();
  readonly root: Node;
  readonly os = type();
  readonly machine = machine();
  readonly maxLeaves: number;
  /** Where the node is mounted through FUSE, when it is: processes get paths into it. */
  mountpoint?: string;
  envText = '';
  debug = 0;
  private nextSerial = 1;
  private stopping = false;

  constructor(readonly opts: NodeOptions) {
    this.maxLeaves = opts.maxLeaves ?? 4096;
    this.root = nodeRoot(this);
  }

  get helperPath(): string {
    return this.opts.helperPath;
  }

  get spoolDir(): string {
    return join(this.opts.workdir, 'spool');
  }

  get defaultDir(): string {
    return join(this.opts.workdir, 'work');
  }

  async start(): Promise<void> {
    // Spools of an earlier run of this node are garbage: nobody can name them.
    await rm(this.spoolDir, { recursive: true, force: true });
    await mkdir(this.spoolDir, { recursive: true, mode: 0o700 });
    await mkdir(this.defaultDir, { recursive: true, mode: 0o700 });
  }

  /** Kill everything and forget every session. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.allSettled([...this.sessions.values()].map((s) => s.remove()));
    await rm(this.spoolDir, { recursive: true, force: true }).catch(() => undefined);
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
    this.sessions.get(id)?.remove();
    const session = new Session(this, id, this.nextSerial++);
    this.sessions.set(id, session);
    log('session %d created', id);
    return session;
  }

  forget(session: Session): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
  }

  /**
   * Open the clone file: a new session whose ctl this handle is. The handle
   * owns what the session reserves: closing it releases (SPEC section 2).
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
    const ok = (want: string, have: string) => want === '*' || want.toLowerCase() === have.toLowerCase();
    if (!ok(os, this.os) || !ok(mach, this.machine)) {
      throw new FsError('ENOSPC', `no resources matching ${os} ${mach} (this node is ${this.os} ${this.machine})`);
    }
  }

  /** The children for `res N` (N > 0), numbered from `firstIndex`. */
  async reserveChildren(parent: Session, req: ResRequest, firstIndex: number): Promise<Child[]> {
    this.checkMatch(req.os, req.machine);
    return reserveLocalSlots(this, parent, req.count, firstIndex);
  }

  /** Slots bound into sessions: what `--strict-slots` counts. */
  slotsInUse(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.boundIn) n++;
    return n;
  }

  /** Node capacity as `status` shows it: COUNT OS MACHINE lines. */
  capacity(): string {
    return `${this.opts.slots} ${this.os} ${this.machine}\n`;
  }

  settings(): string {
    return [
      `name ${this.opts.name}`,
      `slots ${this.opts.slots}`,
      `strictslots ${this.opts.strictSlots ? 1 : 0}`,
      `debug ${this.debug}`,
      `workdir ${this.opts.workdir}`,
      '',
    ].join('\n');
  }
}
