/**
 * The remote tree as ns Nodes. A RemoteNode is only a path from the attach
 * root: it pins no fid. Each operation walks a fresh fid from the root fid,
 * uses it and clunks it, so thousands of nodes cost nothing on the server.
 */
import type { FileStat, Node, OpenFile, OpenMode } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import { unpackStats } from './codec.js';
import { IOHDRSZ, OREAD, ORDWR, OTRUNC, OWRITE } from './constants.js';
import type { Msg, TMessage, Untagged } from './messages.js';
import type { ReplyName } from './mux.js';
import { fromWireStat } from './stat.js';

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
    // The path is sent as elements: these could not round-trip.
    if (name === '' || name === '.' || name === '..' || name.includes('/')) return undefined;
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

  async list(): Promise<FileStat[]> {
    return this.withFid(async (fid) => {
      await this.remote.rpc({ type: 'Topen', fid, mode: OREAD });
      const count = this.remote.msize - IOHDRSZ;
      const out: FileStat[] = [];
      for (let offset = 0n; ;) {
        const { data } = await this.remote.rpc({ type: 'Tread', fid, offset, count });
        if (data.length === 0) return out;
        for (const st of unpackStats(data)) out.push(fromWireStat(st));
        offset += BigInt(data.length);
      }
    });
  }

  async open(mode: OpenMode): Promise<OpenFile> {
    const fid = await this.remote.walk(this.path);
    try {
      const bits = (mode.read && mode.write ? ORDWR : mode.write ? OWRITE : OREAD) |
        (mode.truncate ? OTRUNC : 0);
      const r = await this.remote.rpc({ type: 'Topen', fid, mode: bits });
      const max = this.remote.msize - IOHDRSZ;
      const iounit = r.iounit > 0 && r.iounit < max ? r.iounit : max;
      return new RemoteFile(this.remote, fid, iounit);
    } catch (err) {
      await this.remote.clunk(fid);
      throw err;
    }
  }

  async remove(): Promise<void> {
    const fid = await this.remote.walk(this.path);
    try {
      await this.remote.rpc({ type: 'Tremove', fid });
    } finally {
      this.remote.forget(fid); // remove(9P) clunks the fid even when it fails
    }
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

export class RemoteFile implements OpenFile {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly remote: Remote,
    private readonly fid: number,
    /** Largest payload per Tread/Twrite. */
    readonly iounit: number,
  ) {}

  async read(offset: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    this.checkOpen();
    const r = await this.remote.rpc(
      { type: 'Tread', fid: this.fid, offset: BigInt(offset), count: Math.min(count, this.iounit) },
      signal,
    );
    return r.data;
  }

  /** Larger writes go out as several Twrites of at most iounit bytes. */
  async write(data: Buffer, offset: number, signal?: AbortSignal): Promise<number> {
    this.checkOpen();
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
    return (this.closing ??= this.remote.clunk(this.fid));
  }

  private checkOpen(): void {
    if (this.closing !== undefined) throw new FsError('EBADF', 'file is closed');
  }
}
