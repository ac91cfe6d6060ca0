/**
 * One 9P connection on the server side: framing, the tag table, Tversion
 * and Tflush. Every other request runs as its own promise, so a read that
 * waits for output never holds up a stat on the same connection.
 *
 * Flush (flush(9P)): the old request's signal is aborted; its Rflush goes
 * out once the old request has settled. If it settled with a result, that
 * result is sent first (the client must honour it: a walk may have bound a
 * fid); if it failed, most likely with EINTR, its reply is dropped. A
 * request that ignores the signal is dropped after `flushGraceMs`, and its
 * late answer is discarded. Either way no reply for the old tag follows
 * the Rflush.
 *
 * Limits, so that no client can grow the server without bound: fids per
 * connection (maxFids), requests in flight (maxPending, refused at once
 * beyond it, never queued), frames no larger than the negotiated msize
 * (a bigger one closes the connection), and replies: when the socket stops
 * taking them (write() returns false) the connection stops reading and
 * parsing requests until 'drain', so a client that never reads its replies
 * holds at most what was already in flight.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import type { Node } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import { pack, unpack } from './codec.js';
import {
  DEFAULT_MAX_FIDS,
  DEFAULT_MAX_PENDING,
  DEFAULT_MSIZE,
  MIN_MSIZE,
  VERSION_9P2000,
  VERSION_UNKNOWN,
} from './constants.js';
import { describe, tracing } from './describe.js';
import { errorString } from './errstr.js';
import type { AuthPolicy, Logger, ConnState } from './fid.js';
import { closeQuietly } from './fid.js';
import { Framer } from './framer.js';
import { giveFrame, isFramed, sealFrame } from './rread-frame.js';
import type { Reply } from './handlers.js';
import { handle } from './handlers.js';
import type { Message, Msg, TMessage } from './messages.js';
import { isTName } from './messages.js';
import type { Warn } from './warn.js';
import { stderrWarn } from './warn.js';

const defaultLog = createDebug('taskfs:9p');

export interface ServeOptions {
  /** Largest msize offered (default DEFAULT_MSIZE, 128 KiB + 24); clients asking for more get this. */
  msize?: number;
  /**
   * Fids one connection may hold, auth fids included (default 4096). A
   * Tattach, Tauth or Twalk to a new fid beyond it gets "too many open files".
   */
  maxFids?: number;
  /**
   * Requests one connection may have in flight (default 256). The one
   * beyond gets Rerror "too many requests in flight" at once. Tflush may
   * go past it, up to twice the limit, so a client at the limit can still
   * flush its blocked reads.
   */
  maxPending?: number;
  /**
   * The shared secret (--key). When set, Tattach needs an auth fid that
   * has finished taskfs-auth-1 (auth.ts); without it Tauth is answered
   * "authentication not required".
   */
  key?: Buffer;
  /** Who the client is, for logs and warnings; default: the socket's remote address. */
  peer?: string;
  /** One-line operator warnings (refused clients); default: stderr, rate-limited. */
  warn?: Warn;
  log?: Logger;
  /** How long a flushed request may take to notice its signal. */
  flushGraceMs?: number;
  /** Called once when the connection is gone (err: why, if not a clean close). */
  onClose?: (err?: Error) => void;
}

export interface ConnectionStats {
  /** Fids in the table (attached, walked, open, or auth fids). */
  fids: number;
  /** Fids opened for I/O. */
  openFiles: number;
  /** Requests received and not yet answered or dropped. */
  pending: number;
  /** Reply bytes written to the socket and not yet taken by it. */
  queuedBytes: number;
  /** The most queuedBytes has been. */
  peakQueuedBytes: number;
  /** Bytes received and not yet parsed (held while reading is paused). */
  unreadBytes: number;
  /** Reading is paused until the socket drains the replies. */
  paused: boolean;
}

export interface Connection {
  close(): void;
  stats(): ConnectionStats;
  /** Resolves when the connection has closed and its files are closed. */
  readonly closed: Promise<void>;
}

/** A request in flight. */
interface Pending {
  readonly tag: number;
  readonly controller: AbortController;
  /** Tags of Tflushes waiting for this request, in arrival order. */
  readonly flushes: number[];
  grace?: NodeJS.Timeout;
}

export class ServerConnection implements Connection {
  readonly closed: Promise<void>;
  private readonly framer: Framer;
  private readonly maxMsize: number;
  private readonly log: Logger;
  private readonly flushGraceMs: number;
  private readonly maxFids: number;
  private readonly maxPending: number;
  private readonly peer: string;
  private readonly auth: AuthPolicy | undefined;
  private session: ConnState | undefined;
  private readonly pending = new Map<number, Pending>();
  private dead = false;
  /** The socket refused the last write: stop reading until 'drain'. */
  private writeBlocked = false;
  private peakQueued = 0;
  private resolveClosed!: () => void;

  constructor(
    private readonly socket: Duplex,
    private readonly root: () => Node,
    private readonly opts: ServeOptions = {},
  ) {
    this.maxMsize = Math.max(MIN_MSIZE, opts.msize ?? DEFAULT_MSIZE);
    this.log = opts.log ?? defaultLog;
    this.flushGraceMs = opts.flushGraceMs ?? 1000;
    this.maxFids = Math.max(1, opts.maxFids ?? DEFAULT_MAX_FIDS);
    this.maxPending = Math.max(1, opts.maxPending ?? DEFAULT_MAX_PENDING);
    this.peer = opts.peer ?? peerOf(socket);
    this.auth = opts.key === undefined ? undefined : this.authPolicy(opts.key, opts.warn ?? stderrWarn);
    this.framer = new Framer(this.maxMsize);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('end', () => this.shutdown());
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown());
  }

  close(): void {
    this.shutdown();
  }

  stats(): ConnectionStats {
    let openFiles = 0;
    for (const f of this.session?.fids.values() ?? []) if (f.open !== undefined) openFiles++;
    return {
      fids: this.session?.fids.size ?? 0,
      openFiles,
      pending: this.pending.size,
      queuedBytes: this.socket.writableLength,
      peakQueuedBytes: this.peakQueued,
      unreadBytes: this.framer.pending,
      paused: this.writeBlocked,
    };
  }

  private authPolicy(key: Buffer, warn: Warn): AuthPolicy {
    return {
      key,
      refused: (why) => {
        this.log('refused 9P client %s: %s', this.peer, why);
        warn(`taskfs: refused 9P client ${this.peer}: ${why}`);
      },
    };
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    this.framer.append(chunk);
    this.pump();
  }

  private onDrain(): void {
    if (this.dead || !this.writeBlocked) return;
    this.writeBlocked = false;
    this.socket.resume();
    this.pump();
  }

  /** Handles buffered frames until they run out or the replies back up. */
  private pump(): void {
    try {
      while (!this.dead && !this.writeBlocked) {
        const frame = this.framer.next();
        if (frame === undefined) return;
        this.onMessage(unpack(frame, this.framer.maxSize));
      }
    } catch (err) {
      // Malformed input (or a bug in dispatch): drop this peer, not the process.
      this.log('closing connection: %s', (err as Error)?.message ?? err);
      this.shutdown(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private onMessage(msg: Message): void {
    if (tracing(this.log)) this.log('<- %s', describe(msg));
    if (msg.type === 'Tversion') return this.version(msg);
    if (!isTName(msg.type)) {
      return this.sendError(msg.tag, new FsError('EINVAL', `unexpected message ${msg.type}`));
    }
    if (this.session === undefined) {
      return this.sendError(msg.tag, new FsError('EINVAL', 'Tversion must come first'));
    }
    if (this.pending.has(msg.tag)) {
      return this.sendError(msg.tag, new FsError('EINVAL', 'duplicate tag'));
    }
    const limit = msg.type === 'Tflush' ? 2 * this.maxPending : this.maxPending;
    if (this.pending.size >= limit) {
      return this.sendError(msg.tag, new FsError('EAGAIN', 'too many requests in flight'));
    }
    const p: Pending = { tag: msg.tag, controller: new AbortController(), flushes: [] };
    this.pending.set(msg.tag, p);
    if (msg.type === 'Tflush') return this.flush(p, msg);
    const session = this.session;
    handle(session, msg as TMessage, p.controller.signal).then(
      (reply) => this.finish(p, reply),
      (err: unknown) => {
        if (!(err instanceof FsError)) this.log('%s failed: %O', msg.type, err);
        this.finish(p, { type: 'Rerror', ename: errorString(err) });
      },
    );
  }

  /** version(9P): a new session; everything of the old one is dropped. */
  private version(msg: Msg<'Tversion'>): void {
    void this.endSession();
    if (msg.msize < MIN_MSIZE) {
      return this.sendError(msg.tag, new FsError('EINVAL', `msize ${msg.msize} is too small`));
    }
    const msize = Math.min(msg.msize, this.maxMsize);
    const version = negotiateVersion(msg.version);
    if (version === VERSION_9P2000) {
      this.framer.maxSize = msize;
      this.session = {
        fids: new Map(),
        msize,
        root: this.root,
        log: this.log,
        maxFids: this.maxFids,
        reading: 0,
        auth: this.auth,
      };
    }
    this.send(msg.tag, { type: 'Rversion', msize, version });
  }

  private flush(self: Pending, msg: Msg<'Tflush'>): void {
    const old = this.pending.get(msg.oldtag);
    if (old === undefined || old === self) {
      // Already answered (or never seen): nothing to wait for.
      this.finish(self, { type: 'Rflush' });
      return;
    }
    old.flushes.push(self.tag);
    old.controller.abort(new FsError('EINTR', 'interrupted'));
    old.grace ??= setTimeout(() => {
      this.log('tag %d ignored its flush for %d ms; dropping it', old.tag, this.flushGraceMs);
      this.finish(old, undefined);
    }, this.flushGraceMs);
    old.grace.unref();
  }

  /** A request has settled (reply) or is being dropped (undefined). */
  private finish(p: Pending, reply: Reply | undefined): void {
    if (this.pending.get(p.tag) !== p) return; // dropped earlier; its answer is stale
    this.pending.delete(p.tag);
    clearTimeout(p.grace);
    const flushed = p.flushes.length > 0;
    if (reply !== undefined && !(flushed && reply.type === 'Rerror')) this.send(p.tag, reply);
    for (const tag of p.flushes) {
      const f = this.pending.get(tag);
      if (f !== undefined) this.finish(f, { type: 'Rflush' });
    }
  }

  private sendError(tag: number, err: unknown): void {
    this.send(tag, { type: 'Rerror', ename: errorString(err) });
  }

  private send(tag: number, reply: Reply): void {
    if (this.dead) return;
    if (isFramed(reply)) {
      if (tracing(this.log)) this.log('-> Rread tag %d count %d', tag, reply.data.length);
      this.write(sealFrame(reply, tag), () => giveFrame(reply.frame));
      return;
    }
    let msg = { ...reply, tag } as Message;
    let buf: Buffer;
    try {
      buf = pack(msg);
      const limit = this.session?.msize ?? this.maxMsize;
      if (buf.length > limit) throw new FsError('E2BIG', `${reply.type} of ${buf.length} bytes exceeds msize ${limit}`);
    } catch (err) {
      this.log('cannot send %s: %s', reply.type, (err as Error)?.message ?? err);
      msg = { type: 'Rerror', tag, ename: errorString(err) };
      buf = pack(msg);
    }
    if (tracing(this.log)) this.log('-> %s', describe(msg));
    this.write(buf);
  }

  private write(buf: Buffer, done?: () => void): void {
    const more = this.socket.write(buf, done);
    this.peakQueued = Math.max(this.peakQueued, this.socket.writableLength);
    if (!more && !this.writeBlocked) {
      // The client is not taking its replies: stop taking its requests.
      this.writeBlocked = true;
      this.socket.pause();
    }
  }

  /** Aborts every request and closes every fid of the current session. */
  private endSession(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.grace);
      p.controller.abort(new FsError('ECONNRESET', 'session ended'));
    }
    this.pending.clear();
    const s = this.session;
    this.session = undefined;
    if (s === undefined) return Promise.resolve();
    const closing = [...s.fids.values()].map((f) => closeQuietly(f, this.log));
    s.fids.clear();
    return Promise.all(closing).then(() => undefined);
  }

  private shutdown(err?: Error): void {
    if (this.dead) return;
    this.dead = true;
    if (err !== undefined) this.log('connection error: %s', err.message);
    const closing = this.endSession();
    if (!this.socket.destroyed) this.socket.destroy();
    void closing.then(() => {
      this.opts.onClose?.(err);
      this.resolveClosed();
    });
  }
}

/** host:port of a TCP peer, for logs; a unix socket has no address. */
function peerOf(socket: Duplex): string {
  const s = socket as Partial<Pick<Socket, 'remoteAddress' | 'remotePort'>>;
  if (s.remoteAddress === undefined) return 'unix socket';
  return s.remoteAddress.includes(':') ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/**
 * version(9P): a suffix after '.' is ignored, and any 9Pnnnn with
 * nnnn >= 2000 may be answered with 9P2000; anything else is "unknown".
 */
export function negotiateVersion(v: string): string {
  const m = /^9P(\d+)$/.exec(v.split('.')[0]!);
  return m !== null && Number(m[1]) >= 2000 ? VERSION_9P2000 : VERSION_UNKNOWN;
}
