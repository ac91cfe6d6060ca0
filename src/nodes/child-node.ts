/**
 * A child node mounted over 9P (`--remote`, `mount ADDR NAME`): its tree,
 * its capacity, and reservations on it. A reservation holds the child's
 * clone open for as long as it lives; when this node or its connection
 * goes, the child sees the handle close and releases by itself.
 */
import createDebug from 'debug';
import { FsError, asFsError } from '../ns/errors.js';
import { snapshotText } from '../ns/handles.js';
import { quote } from '../ns/quote.js';
import type { Node } from '../ns/types.js';
import type { Duplex } from 'node:stream';
import { connect, connectStream, type NinepClient } from '../ninep/client.js';
import { SpareFid, type RemoteFile, type RemoteNode, type WalkedFid } from '../ninep/remote.js';
import type { BoundSession } from './bound-session.js';
import { parseCapacity, type CapacityLine } from './distribute.js';
import { guardLost, type SessionFiles } from './lost-guard.js';
import type { LeafSource } from './leaf-source.js';

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

/** How a child node is dialed: its key (else the node's --key) and its silence timeout. */
export interface DialOptions {
  key?: Buffer;
  timeoutMs?: number;
}

/** A session being reserved on a child: its number, and fids walked to it. */
interface ReservedSession {
  id: string;
  /** Held to remove exactly this session at release: its number may be reused once the clone handle closes. */
  dir: WalkedFid;
  topology: WalkedFid | undefined;
  /** The session's `import`, opened with the reservation: the way up for its leaves (uplink.ts). */
  import: WalkedFid;
  /** Files walked ahead of their first open, which takes them. */
  ahead: Map<string, WalkedFid>;
}

/**
 * Session files whose first open is all but certain, walked while the
 * child reserves: every launch collects `wait`.
 */
const WALKED_AHEAD = ['wait'];

export class ChildNode implements LeafSource {
  private lostReason?: string;
  private known?: { at: number; lines: CapacityLine[] };
  private readonly lostCtl = new AbortController();
  /** A reservation starts with an open of clone, a capacity read with one of status. */
  private readonly spareClone: SpareFid;
  private readonly spareStatus: SpareFid;

  private constructor(
    readonly name: string,
    readonly addr: string,
    private readonly client: NinepClient,
  ) {
    void client.closed.then((err) => this.markLost(err?.message ?? 'unmounted'));
    this.spareClone = new SpareFid(client.root.at('clone'));
    this.spareStatus = new SpareFid(client.root.at('status'));
  }

  static async connect(name: string, addr: string, opts: DialOptions = {}): Promise<ChildNode> {
    return ChildNode.dial(name, addr, opts, (o) => connect(addr, o));
  }

  /**
   * A child node over a stream already made (an ssh channel, a worker that
   * dialed in); `addr` is what `ns` shows for it. The stream's end is the
   * node's loss, as a closed socket is.
   */
  static async overStream(name: string, addr: string, stream: Duplex, opts: DialOptions = {}): Promise<ChildNode> {
    return ChildNode.dial(name, addr, opts, (o) => connectStream(stream, addr, o));
  }

  /** A child node over what `connecting` makes of the options; a failure names the address. */
  private static async dial(
    name: string,
    addr: string,
    opts: DialOptions,
    connecting: (o: Required<Pick<DialOptions, 'timeoutMs'>> & DialOptions) => Promise<NinepClient>,
  ): Promise<ChildNode> {
    const { timeoutMs = DEFAULT_CHILD_TIMEOUT_MS } = opts;
    // `key: undefined` given is no key: a channel that authenticated itself (ssh).
    const key = 'key' in opts ? opts.key : defaultKey;
    try {
      return new ChildNode(name, addr, await connecting({ timeoutMs, key }));
    } catch (err) {
      const e = asFsError(err);
      throw new FsError(e.code, `mount ${addr}: ${e.message}`);
    }
  }

  get root(): Node {
    return this.client.root;
  }

  /** The child's staging directory: staged files are sent here before exec. */
  get fs(): Node {
    return this.client.root.at('fs');
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
      this.known = { at: now, lines: parseCapacity(await this.readSnapshotFile(this.spareStatus.take())) };
    }
    return this.known.lines;
  }

  /**
   * A session on the child with `share` leaves (`res 0` for one), bound
   * later as a BoundSession. Round trips are what a reservation across machines
   * costs, so only these wait for each other: open the clone (its fid is
   * walked ahead), read the session's number and write `res` together,
   * then open and read `topology` (walked while the child reserved):
   * four round trips, five when the number comes back after `res`.
   */
  async reserve(share: number, os: string, machine: string): Promise<BoundSession> {
    const handle = await this.openClone();
    let session: ReservedSession | undefined;
    const [numbered, reserved] = await Promise.allSettled([
      handle.read(0, 32).then((b) => (session = this.reservedSession(b.toString().trim(), share))),
      handle.write(Buffer.from(`res ${share === 1 ? 0 : share} ${quote(os)} ${quote(machine)}\n`), 0),
    ]);
    const release = () => this.release(handle, session);
    try {
      if (reserved.status === 'rejected') {
        const e = asFsError(reserved.reason);
        throw new FsError(e.code, `${this.name}: ${e.message}`);
      }
      if (numbered.status === 'rejected') throw numbered.reason;
      const { id, topology } = session!;
      // A child without import (an older taskfs) still serves; its leaves just cannot reach up.
      const [text, uplink] = await Promise.all([
        topology ? this.readSnapshotFile(topology) : '',
        session!.import.open({ read: true, write: true }).catch(() => undefined),
      ]);
      const dir = this.client.root.at(id);
      const bound = { dir, ctl: handle, topology: text, release, uplink, host: this };
      // The guard learns the leaves' status lines and the directory's stat as
      // they are read; nothing more is asked of the child now.
      return guardLost(bound, this, id, this.sessionFiles(dir, session!.ahead));
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** An open clone handle: a new session on the child, released when it closes. */
  private async openClone(): Promise<RemoteFile> {
    try {
      return await this.spareClone.take().open({ read: true, write: true });
    } catch (err) {
      const e = asFsError(err);
      if (e.code === 'ENOENT') throw new FsError('EIO', `${this.name}: no clone file`);
      throw e;
    }
  }

  /** Fids walked to session `id` while the child reserves. */
  private reservedSession(id: string, share: number): ReservedSession {
    const dir = this.client.root.at(id);
    return {
      id,
      dir: dir.prewalk(),
      topology: share === 1 ? undefined : dir.at('topology').prewalk(),
      import: dir.at('import').prewalk(),
      ahead: new Map(WALKED_AHEAD.map((name) => [name, dir.at(name).prewalk()])),
    };
  }

  /**
   * Closing the clone handle releases the child's session; removing it
   * leaves nothing behind on the child for a refused or released share.
   * Both go out at once and both answers are awaited: whichever of them
   * the child acts on first, its release is over when the other is answered.
   */
  private async release(handle: RemoteFile, session: ReservedSession | undefined): Promise<void> {
    session?.topology?.discard();
    session?.import.discard();
    for (const walked of session?.ahead.values() ?? []) walked.discard();
    await Promise.all([handle.close().catch(() => undefined), session?.dir.remove().catch(() => undefined)]);
  }

  private sessionFiles(dir: RemoteNode, ahead: Map<string, WalkedFid>): SessionFiles {
    return {
      at: (name) => (ahead.has(name) ? firstOpenAhead(dir.at(name), ahead, name) : dir.at(name)),
      read: (name) => this.readSnapshotFile(dir.at(name).prewalk()),
    };
  }

  private async readSnapshotFile(walked: WalkedFid): Promise<string> {
    return snapshotText(await walked.open({ read: true, write: false }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  mountLine(): string {
    return `mount ${this.addr} ${this.name}`;
  }
}

/** `node`, whose first open takes the fid walked ahead for it; later opens walk again. */
function firstOpenAhead(node: RemoteNode, ahead: Map<string, WalkedFid>, name: string): Node {
  return {
    stat: () => node.stat(),
    open: (mode) => {
      const walked = ahead.get(name) ?? node.prewalk();
      ahead.delete(name);
      return walked.open(mode);
    },
  };
}
