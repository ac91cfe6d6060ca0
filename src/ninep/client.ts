/**
 * 9P2000 client: dial, negotiate, attach, and present the remote tree as
 * ns Nodes (`client.root`). One connection carries any number of
 * concurrent requests (see mux.ts for tags, flush and keepalive).
 */
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { userInfo } from 'node:os';
import createDebug from 'debug';
import { FsError, asFsError } from '../ns/errors.js';
import type { Address } from './address.js';
import { parseAddress } from './address.js';
import { authenticate } from './authclient.js';
import { DEFAULT_MSIZE, MAXWELEM, MIN_MSIZE, NOFID, VERSION_9P2000 } from './constants.js';
import type { Msg, TMessage, Untagged } from './messages.js';
import type { ReplyName } from './mux.js';
import { FidPool } from './fidpool.js';
import { Mux, replyFramer } from './mux.js';
import { type Framer, socketOnread } from './framer.js';
import type { Remote } from './remote.js';
import { RemoteNode } from './remote.js';
import { AheadBudget } from './readahead.js';

/** Treads ahead of readers per connection: well under the server's limit of requests in flight. */
const AHEAD_PER_CONNECTION = 32;

const log = createDebug('taskfs:9p');

export interface ConnectOptions {
  /** msize to ask for; the server may lower it. */
  msize?: number;
  /**
   * Declare the connection lost when the server answers nothing for this
   * long (pings are sent when it is quiet; see mux.ts). Also bounds the
   * connect and handshake. Off by default.
   */
  timeoutMs?: number;
  uname?: string;
  aname?: string;
  /**
   * The shared secret (--key): authenticate with taskfs-auth-1 (auth.ts)
   * before attaching, and refuse a server that cannot prove it holds the
   * key too. Without one, a server that requires authentication is refused
   * with "ADDR: authentication required (give --key)".
   */
  key?: Buffer;
}

/** Dials a TCP or unix address (address.ts) and speaks 9P over the socket. */
export async function connect(addr: string, opts: ConnectOptions = {}): Promise<NinepClient> {
  // The socket reads straight into the framer: no chunk per read, no copy into frames.
  const framer = replyFramer(wantedMsize(opts));
  return connectStream(await dial(parseAddress(addr), addr, framer, opts.timeoutMs), addr, opts, framer);
}

/**
 * Speaks 9P as the client over any byte stream already made (a socket, an
 * ssh channel's stdio, a connection a worker dialed in on). `label` names
 * the other end in errors. The stream is destroyed if the handshake fails.
 */
export async function connectStream(
  socket: Duplex,
  label: string,
  opts: ConnectOptions = {},
  /** The framer `socket` reads into (socketOnread), if it was made so. */
  framer?: Framer,
): Promise<NinepClient> {
  const addr = label;
  const wanted = wantedMsize(opts);
  const mux = new Mux(socket, { msize: wanted, log, timeoutMs: opts.timeoutMs, framer });
  try {
    const rv = await mux.version(wanted, VERSION_9P2000);
    if (rv.version !== VERSION_9P2000) {
      throw new FsError('EINVAL', `${addr} does not speak 9P2000 (answered '${rv.version}')`);
    }
    if (rv.msize > wanted || rv.msize < MIN_MSIZE) {
      throw new FsError('EIO', `${addr} chose an unusable msize ${rv.msize}`);
    }
    mux.setMsize(rv.msize);
    const fids = new FidPool();
    const rootFid = fids.alloc();
    const uname = opts.uname ?? defaultUser();
    const aname = opts.aname ?? '';
    await attach(mux, fids, { addr, fid: rootFid, uname, aname, key: opts.key });
    // The keepalive ping: cheap, answered at once even while reads block.
    mux.ping = () => ({ type: 'Tstat', fid: rootFid });
    return new NinepClient(mux, fids, rootFid);
  } catch (err) {
    mux.close();
    throw err;
  }
}

export class NinepClient {
  /** The remote root; walk from it. */
  readonly root: RemoteNode;
  /** Resolves when the connection is gone: undefined after close(), else the cause. */
  readonly closed: Promise<Error | undefined>;
  private readonly remote: Remote;

  /** Use connect(). */
  constructor(
    private readonly mux: Mux,
    private readonly fids: FidPool,
    private readonly rootFid: number,
  ) {
    this.closed = mux.closed;
    this.remote = {
      rootFid,
      msize: mux.msize,
      rpc: (msg, signal) => this.mux.rpc(msg, signal),
      walk: (path) => this.walk(path),
      clunk: (fid) => this.clunk(fid),
      forget: (fid) => this.fids.free(fid),
      ahead: new AheadBudget(AHEAD_PER_CONNECTION),
    };
    this.root = new RemoteNode(this.remote, []);
  }

  get msize(): number {
    return this.mux.msize;
  }

  /** Requests in flight on the connection (including keepalive pings). */
  get pending(): number {
    return this.mux.inFlight;
  }

  /** Hangs up. Pending requests reject with ECONNRESET. */
  close(): Promise<void> {
    this.mux.close();
    return this.closed.then(() => undefined);
  }

  /** Sends any request; mostly for tests and tools. */
  rpc<M extends Untagged<TMessage>>(msg: M, signal?: AbortSignal): Promise<Msg<ReplyName<M['type']>>> {
    return this.mux.rpc(msg, signal);
  }

  private async walk(path: readonly string[]): Promise<number> {
    const fid = this.fids.alloc();
    let from = this.rootFid;
    try {
      let done = 0;
      do {
        const wnames = path.slice(done, done + MAXWELEM);
        const r = await this.mux.rpc({ type: 'Twalk', fid: from, newfid: fid, wnames });
        if (r.wqids.length < wnames.length) throw new FsError('ENOENT', 'file does not exist');
        from = fid;
        done += wnames.length;
      } while (done < path.length);
      return fid;
    } catch (err) {
      // After the first whole step the fid exists on the server.
      if (from === fid) await this.clunk(fid);
      else this.fids.free(fid);
      throw err;
    }
  }

  private async clunk(fid: number): Promise<void> {
    try {
      await this.mux.rpc({ type: 'Tclunk', fid });
    } catch (err) {
      log('clunk %d: %s', fid, (err as Error).message);
    } finally {
      // clunk(9P) frees the fid whatever the answer.
      this.fids.free(fid);
    }
  }
}

interface AttachRequest {
  addr: string;
  fid: number;
  uname: string;
  aname: string;
  key?: Buffer;
}

/** Tattach, through taskfs-auth-1 when there is a key. */
async function attach(mux: Mux, fids: FidPool, req: AttachRequest): Promise<void> {
  const { addr, fid, uname, aname, key } = req;
  if (key === undefined) {
    try {
      await mux.rpc({ type: 'Tattach', fid, afid: NOFID, uname, aname });
    } catch (err) {
      const e = asFsError(err);
      if (/authentication required/.test(e.message))
        throw new FsError(e.code, `${addr}: authentication required (give --key)`);
      throw err;
    }
    return;
  }
  if (key.length === 0) throw new FsError('EINVAL', `${addr}: the key is empty`);
  const afid = fids.alloc();
  // A failure here ends the connection (connect closes it): nothing to clunk.
  await authenticate(mux, { addr, afid, key, uname, aname });
  try {
    await mux.rpc({ type: 'Tattach', fid, afid, uname, aname });
  } finally {
    // An auth fid serves one attach; free its slot on the server.
    await mux.rpc({ type: 'Tclunk', fid: afid }).catch(() => undefined);
    fids.free(afid);
  }
}

function wantedMsize(opts: ConnectOptions): number {
  return Math.max(MIN_MSIZE, opts.msize ?? DEFAULT_MSIZE);
}

async function dial(where: Address, addr: string, framer: Framer, timeoutMs?: number): Promise<Socket> {
  const onread = socketOnread(framer);
  const socket =
    where.kind === 'unix'
      ? netConnect({ path: where.path, onread })
      : netConnect({ host: where.host, port: where.port, noDelay: true, onread });
  const timer =
    timeoutMs !== undefined && timeoutMs > 0
      ? setTimeout(() => socket.destroy(new FsError('ETIMEDOUT', `no connection within ${timeoutMs} ms`)), timeoutMs)
      : undefined;
  try {
    await once(socket, 'connect');
    return socket;
  } catch (err) {
    socket.destroy();
    const e = asFsError(err, 'ECONNRESET');
    throw new FsError(e.code, `cannot connect to ${addr}: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'none';
  }
}
