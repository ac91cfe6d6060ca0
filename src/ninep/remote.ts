/**
 * The remote tree as ns Nodes. A RemoteNode is only a path from the attach
 * root: it pins no fid. Each operation walks a fresh fid from the root fid,
 * uses it and clunks it, so thousands of nodes cost nothing on the server.
 */
import { DMDIR, type FileStat, type Node, type OpenFile, type OpenMode } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import { unpackStats } from './codec.js';
import { IOHDRSZ, OREAD, ORDWR, OTRUNC, OWRITE } from './constants.js';
import type { Msg, TMessage, Untagged } from './messages.js';
import type { ReplyName } from './mux.js';
import { type AheadBudget, type Answer, ReadAhead } from './readahead.js';
import type { FramedRread } from './rread-frame.js';
import { dontTouchStat, fromWireStat } from './stat.js';
import { WriteBehind } from './write-behind.js';

/** Bytes of a stream written behind (queued and in flight) per file. */
const WRITE_BEHIND_WINDOW = 2 * 1024 * 1024;

/** What a RemoteNode needs from the client. */
export interface Remote {
  readonly rootFid: number;
  readonly msize: number;
  rpc<M extends Untagged<TMessage>>(msg: M, signal?: AbortSignal): Promise<Msg<ReplyName<M['type']>>>;
  /** A new fid for `path` (from the root); ENOENT if it does not exist. */
  walk(path: readonly string[]): Promise<number>;
  /** Clunks and recycles a fid; never throws. */
  clunk(fid: number): Promise<void>;
  /** Recycles a fid the server has already freed (after Tremove). */
  forget(fid: number): void;
  /** Treads ahead of readers on this connection (readahead.ts). */
  readonly ahead: AheadBudget;
}

export class RemoteNode implements Node {
  constructor(
    private readonly remote: Remote,
    readonly path: readonly string[],
  ) {}

  async stat(): Promise<FileStat> {
    if (this.path.length === 0) {
      const r = await this.remote.rpc({ type: 'Tstat', fid: this.remote.rootFid });
      return fromWireStat(r.stat);
    }
    return this.withFid(async (fid) => fromWireStat((await this.remote.rpc({ type: 'Tstat', fid })).stat));
  }

  async walk(name: string): Promise<Node | undefined> {
    if (!walkable(name)) return undefined;
    const path = [...this.path, name];
    let fid: number;
    try {
      fid = await this.remote.walk(path);
    } catch (err) {
      if (err instanceof FsError && err.code === 'ENOENT') return undefined;
      throw err;
    }
    // Not waited for: the fid is free once answered, and a walk that only
    // asks "is it there?" should cost one round trip, not two.
    void this.remote.clunk(fid);
    return new RemoteNode(this.remote, path);
  }

  /**
   * `name` below this node without asking the server whether it is there:
   * for files known to exist (a session's files), whose walk would only
   * cost a round trip. Operations on it fail with ENOENT if it is not.
   */
  at(name: string): RemoteNode {
    if (!walkable(name)) throw new FsError('ENOENT', 'file does not exist');
    return new RemoteNode(this.remote, [...this.path, name]);
  }

  async list(): Promise<FileStat[]> {
    return this.withFid(async (fid) => {
      await this.remote.rpc({ type: 'Topen', fid, mode: OREAD });
      const count = this.remote.msize - IOHDRSZ;
      const out: FileStat[] = [];
      for (let offset = 0n; ; ) {
        const { data } = await this.remote.rpc({ type: 'Tread', fid, offset, count });
        if (data.length === 0) return out;
        for (const st of unpackStats(data)) out.push(fromWireStat(st));
        offset += BigInt(data.length);
      }
    });
  }

  open(mode: OpenMode): Promise<RemoteFile> {
    return this.prewalk().open(mode);
  }

  remove(): Promise<void> {
    return this.prewalk().remove();
  }

  /** Tcreate, then the fid is clunked: the new file is opened by path like any other. */
  async create(name: string, dir: boolean, perm = dir ? 0o755 : 0o644): Promise<Node> {
    if (!walkable(name)) throw new FsError('EINVAL', `bad file name ${JSON.stringify(name)}`);
    const bits = dir ? (DMDIR | (perm & 0o777)) >>> 0 : perm & 0o777;
    await this.withFid((fid) => this.remote.rpc({ type: 'Tcreate', fid, name, perm: bits, mode: OREAD }));
    return new RemoteNode(this.remote, [...this.path, name]);
  }

  /** A Twstat of the name alone: a new name in the same directory. */
  async rename(name: string): Promise<void> {
    if (!walkable(name)) throw new FsError('EINVAL', `bad file name ${JSON.stringify(name)}`);
    await this.withFid((fid) => this.remote.rpc({ type: 'Twstat', fid, stat: { ...dontTouchStat(), name } }));
  }

  /** A Twstat of the mode alone: the permission bits (the directory bit is kept). */
  async chmod(perm: number): Promise<void> {
    const dir = (await this.stat()).mode & DMDIR;
    await this.withFid((fid) =>
      this.remote.rpc({ type: 'Twstat', fid, stat: { ...dontTouchStat(), mode: (dir | (perm & 0o777)) >>> 0 } }),
    );
  }

  /** A Twstat of the length alone. */
  async truncate(length = 0): Promise<void> {
    await this.withFid((fid) =>
      this.remote.rpc({ type: 'Twstat', fid, stat: { ...dontTouchStat(), length: BigInt(length) } }),
    );
  }

  /** A fid walked to this node from now on, for an open or a remove later. */
  prewalk(): WalkedFid {
    return new WalkedFid(this.remote, this.path);
  }

  private async withFid<T>(fn: (fid: number) => Promise<T>): Promise<T> {
    const fid = await this.remote.walk(this.path);
    try {
      return await fn(fid);
    } finally {
      await this.remote.clunk(fid);
    }
  }
}

/** Names a walk can carry: the path is sent as elements, and these could not round-trip. */
function walkable(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}

/**
 * A fid walked to `path` as soon as this is made, to be opened or removed
 * later: the walk's round trip overlaps whatever the caller does
 * meanwhile (9P lets many requests be in flight, but gives no order among
 * them, so the open or remove is only sent once the walk is answered).
 * Exactly one of open, remove and discard uses it.
 */
export class WalkedFid {
  private readonly fid: Promise<number>;
  private used = false;

  constructor(
    private readonly remote: Remote,
    readonly path: readonly string[],
  ) {
    this.fid = remote.walk(path);
    this.fid.catch(() => undefined); // a failed walk nobody uses is not an unhandled rejection
  }

  async open(mode: OpenMode): Promise<RemoteFile> {
    const fid = await this.take();
    try {
      const bits = (mode.read && mode.write ? ORDWR : mode.write ? OWRITE : OREAD) | (mode.truncate ? OTRUNC : 0);
      const r = await this.remote.rpc({ type: 'Topen', fid, mode: bits });
      const max = this.remote.msize - IOHDRSZ;
      const iounit = r.iounit > 0 && r.iounit < max ? r.iounit : max;
      return new RemoteFile(this.remote, fid, iounit, mode.writeBehind === true);
    } catch (err) {
      await this.remote.clunk(fid);
      throw err;
    }
  }

  async remove(): Promise<void> {
    const fid = await this.take();
    try {
      await this.remote.rpc({ type: 'Tremove', fid });
    } finally {
      this.remote.forget(fid); // remove(9P) clunks the fid even when it fails
    }
  }

  /** Not needed after all: clunked once walked, not waited for. */
  discard(): void {
    if (this.used) return;
    this.used = true;
    this.fid.then(
      (fid) => this.remote.clunk(fid),
      () => undefined,
    );
  }

  private take(): Promise<number> {
    if (this.used) return Promise.reject(new FsError('EBADF', `fid for ${this.path.join('/')} already used`));
    this.used = true;
    return this.fid;
  }
}

/**
 * A fid to `node` walked before it is needed, and walked again as soon as
 * it is taken: the walk's round trip is off the path of the next open.
 * Costs one idle fid on the server.
 */
export class SpareFid {
  private next: WalkedFid;

  constructor(private readonly node: RemoteNode) {
    this.next = node.prewalk();
  }

  take(): WalkedFid {
    const taken = this.next;
    this.next = this.node.prewalk();
    return taken;
  }
}

export class RemoteFile implements OpenFile {
  private closing: Promise<void> | undefined;
  private readonly ahead: ReadAhead;
  private readonly behind?: WriteBehind;

  constructor(
    private readonly remote: Remote,
    private readonly fid: number,
    /** Largest payload per Tread/Twrite. */
    readonly iounit: number,
    writeBehind = false,
  ) {
    this.ahead = new ReadAhead((o, n, signal) => this.fetch(o, n, signal), iounit, remote.ahead);
    if (writeBehind)
      this.behind = new WriteBehind((data) => this.put(data, 0).then(() => undefined), iounit, WRITE_BEHIND_WINDOW);
  }

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    this.checkOpen();
    return this.ahead.read(offset, Math.min(count, this.iounit), signal);
  }

  /** Copied out of the reply, whose frame is then reused. */
  async readInto(target: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    this.checkOpen();
    return this.ahead.readInto(target.subarray(0, this.iounit), offset, signal);
  }

  /** The reply's own frame, when it came whole in one: a relaying node sends it on (rread-frame.ts). */
  async readFrame(offset: number, count: number, signal?: AbortSignal): Promise<Answer> {
    this.checkOpen();
    return this.ahead.readFrame(offset, Math.min(count, this.iounit), signal);
  }

  private async fetch(offset: number, count: number, signal?: AbortSignal): Promise<Answer> {
    const r = await this.remote.rpc({ type: 'Tread', fid: this.fid, offset: BigInt(offset), count }, signal);
    return { data: r.data, frame: (r as Partial<FramedRread>).frame };
  }

  /** Larger writes go out as several Twrites of at most iounit bytes. */
  async write(data: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    this.checkOpen();
    if (this.behind) {
      await this.behind.write(data, signal);
      return data.length;
    }
    return this.put(data, offset, signal);
  }

  drain(): Promise<void> {
    return this.behind?.drain() ?? Promise.resolve();
  }

  private async put(data: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    let done = 0;
    do {
      const chunk = data.subarray(done, done + this.iounit);
      const r = await this.remote.rpc(
        { type: 'Twrite', fid: this.fid, offset: BigInt(offset + done), data: chunk },
        signal,
      );
      if (r.count !== chunk.length) {
        throw new FsError('EIO', `short write: ${r.count} of ${chunk.length} bytes accepted`);
      }
      done += r.count;
    } while (done < data.length);
    return done;
  }

  close(): Promise<void> {
    this.ahead.reset();
    // What was written behind goes out before the clunk (a failure was the writer's to see).
    const drained = this.behind?.drain().catch(() => undefined) ?? Promise.resolve();
    return (this.closing ??= drained.then(() => this.remote.clunk(this.fid)));
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new FsError('EBADF', 'file is closed');
  }
}
