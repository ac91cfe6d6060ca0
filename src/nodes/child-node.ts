/**
 * A child node mounted over 9P (`--remote`, `mount ADDR NAME`): its tree,
 * its capacity, and reservations on it. A reservation holds the child's
 * clone open for as long as it lives; when this node or its connection
 * goes, the child sees the handle close and releases by itself.
 */
import createDebug from 'debug';
import { FsError, asFsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { connect, type NinepClient } from '../ninep/client.js';
import { readChildFile, type Child } from '../taskfs/child.js';
import { parseCapacity, type CapacityLine } from './distribute.js';
import { guardLost } from './lost-guard.js';

const log = createDebug('taskfs:nodes');

/** Silence longer than this from a child node means it is gone (SIGSTOP, cable cut). */
export const DEFAULT_CHILD_TIMEOUT_MS = 4000;

/** How long a child's reported capacity is taken as still true. */
const CAPACITY_TTL_MS = 1000;

let defaultKey: Buffer | undefined;

/** The node's --key, used to dial every child that is not given one (set at startup). */
export function setChildKey(key: Buffer | undefined): void {
  defaultKey = key;
}

export class ChildNode {
  private lostReason?: string;
  private known?: { at: number; lines: CapacityLine[] };
  private readonly lostCtl = new AbortController();

  private constructor(readonly name: string, readonly addr: string, private readonly client: NinepClient) {
    void client.closed.then((err) => this.markLost(err?.message ?? 'unmounted'));
  }

  static async connect(name: string, addr: string, opts: { key?: Buffer; timeoutMs?: number } = {}): Promise<ChildNode> {
    const { key = defaultKey, timeoutMs = DEFAULT_CHILD_TIMEOUT_MS } = opts;
    try {
      return new ChildNode(name, addr, await connect(addr, { timeoutMs, key }));
    } catch (err) {
      const e = asFsError(err);
      throw new FsError(e.code, `mount ${addr}: ${e.message}`);
    }
  }

  get root(): Node {
    return this.client.root;
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  /** Aborted when the child is lost: guards of its children listen. */
  get lostSignal(): AbortSignal {
    return this.lostCtl.signal;
  }

  private markLost(reason: string): void {
    if (this.lostReason) return;
    this.lostReason = `${this.name}: ${reason}`;
    log('child node %s lost: %s', this.name, reason);
    this.lostCtl.abort();
  }

  /**
   * What the child can take, as its `status` says. Kept for a moment: a
   * reservation asks every child, and capacity changes only when nodes
   * come or go below.
   */
  async capacity(): Promise<CapacityLine[]> {
    if (this.lostReason) return [];
    const now = Date.now();
    if (!this.known || now - this.known.at > CAPACITY_TTL_MS) {
      this.known = { at: now, lines: parseCapacity(await readChildFile(this.root, 'status')) };
    }
    return this.known.lines;
  }

  /** A session on the child with `share` leaves (`res 0` for one), bound later as a Child. */
  async reserve(share: number, os: string, machine: string): Promise<Child> {
    const clone = await this.root.walk!('clone');
    if (!clone?.open) throw new FsError('EIO', `${this.name}: no clone file`);
    const handle = await clone.open({ read: true, write: true });
    let id: string | undefined;
    // Closing the clone handle releases the child's session; removing it
    // leaves nothing behind on the child for a refused or released share.
    const release = async () => {
      const [, dir] = await Promise.all([
        handle.close().catch(() => undefined),
        id !== undefined && !this.lostReason ? this.root.walk!(id).catch(() => undefined) : undefined,
      ]);
      await dir?.remove?.().catch(() => undefined);
    };
    try {
      id = (await handle.read(0, 32)).toString().trim();
      await handle.write(Buffer.from(`res ${share === 1 ? 0 : share} ${quoteWord(os)} ${quoteWord(machine)}\n`), 0)
        .catch((err) => {
          const e = asFsError(err);
          throw new FsError(e.code, `${this.name}: ${e.message}`);
        });
      const dir = await this.root.walk!(id);
      if (!dir) throw new FsError('EIO', `${this.name}: session ${id} vanished`);
      const topology = share === 1 ? '' : await readChildFile(dir, 'topology');
      // The guard learns the leaves' status lines and the directory's stat as
      // they are read; nothing more is asked of the child now (round trips
      // are what a reservation across machines costs).
      return guardLost({ dir, ctl: handle, topology, release }, this, id);
    } catch (err) {
      await release();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  mountLine(): string {
    return `mount ${this.addr} ${this.name}`;
  }
}

function quoteWord(w: string): string {
  return /^[\w*.-]+$/.test(w) ? w : `'${w.replace(/'/g, "''")}'`;
}
