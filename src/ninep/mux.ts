/**
 * Client side of one 9P connection: many requests in flight, matched to
 * their replies by tag.
 *
 * Cancelling: when a request's signal aborts, a Tflush is sent. The caller
 * gets EINTR when the Rflush arrives without a reply; if the reply comes
 * first it is honoured (flush(9P): the server may already have consumed
 * data or bound a fid). The old tag is not reused until its Rflush.
 *
 * Keepalive (`timeoutMs`): whenever nothing has been heard from the server
 * for timeoutMs/3, a ping (a Tstat of the root fid, supplied by the client)
 * is sent. If a request has been outstanding for timeoutMs and nothing at
 * all has arrived for timeoutMs, the server is taken for dead (stopped,
 * wedged, or unreachable without a RST) and the connection is dropped. A
 * read blocked for hours is fine as long as the pings are answered.
 */
import type { Duplex } from 'node:stream';
import { FsError } from '../ns/errors.js';
import { pack, unpack } from './codec.js';
import { NOTAG } from './constants.js';
import { describe, tracing } from './describe.js';
import { errorFromString } from './errstr.js';
import type { Logger } from './fid.js';
import { Framer } from './framer.js';
import type { Message, Msg, RMessage, RName, TMessage, TName, Untagged } from './messages.js';
import { type FramedRread, isPooled, takeFrame } from './rread-frame.js';

/** The reply type of a request type: Tread → Rread. */
export type ReplyName<N extends TName> = N extends `T${infer X}` ? Extract<RName, `R${X}`> : never;

export interface MuxOptions {
  msize: number;
  log: Logger;
  timeoutMs?: number;
  /** The framer the socket reads into (made with replyFramer, fed by socketOnread); else one fed by 'data'. */
  framer?: Framer;
}

/**
 * A framer for replies: large ones (Rread) go into pooled frames of the
 * connection's msize, which reach the reader as FramedRread (rread-frame.ts).
 */
export function replyFramer(msize: number): Framer {
  const framer: Framer = new Framer(msize, (size) => takeFrame(size, framer.maxSize));
  return framer;
}

interface Call {
  readonly tag: number;
  readonly type: TName;
  readonly sentAt: number;
  settled: boolean;
  flushing: boolean;
  resolve(r: RMessage): void;
  reject(e: FsError): void;
  detach?: () => void;
}

export class Mux {
  /** Resolves when the connection is gone: undefined after close(), else why. */
  readonly closed: Promise<Error | undefined>;
  msize: number;
  /** Supplies the keepalive request once there is something cheap to ask. */
  ping: (() => Untagged<TMessage>) | undefined;

  private readonly calls = new Map<number, Call>();
  /** Tags whose reply arrived while a Tflush for them is outstanding. */
  private readonly reserved = new Set<number>();
  private nextTag = 0;
  private readonly framer: Framer;
  private lastHeard = Date.now();
  /** When keepalive last ran: a check that comes late means this process stalled, not the server. */
  private lastCheck = Date.now();
  private pinging = false;
  private failure: FsError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resolveClosed!: (err: Error | undefined) => void;

  constructor(
    private readonly socket: Duplex,
    private readonly opts: MuxOptions,
  ) {
    this.msize = opts.msize;
    this.framer = opts.framer ?? replyFramer(opts.msize);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.framer.arrived = () => this.pump();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('end', () => this.fail(new Error('server closed the connection')));
    socket.on('close', () => this.fail(new Error('connection closed')));
    const t = opts.timeoutMs;
    if (t !== undefined && t > 0) {
      this.timer = setInterval(() => this.keepalive(t), Math.max(5, Math.floor(t / 4)));
      this.timer.unref();
    }
  }

  /** Requests now in flight (pings and flushes included). */
  get inFlight(): number {
    return this.calls.size;
  }

  /** Lowers the frame limit once Rversion has fixed msize. */
  setMsize(msize: number): void {
    this.msize = msize;
    this.framer.maxSize = msize;
  }

  /** A request whose reply must be `ReplyName<N>`; Rerror rejects with its FsError. */
  async rpc<M extends Untagged<TMessage>>(msg: M, signal?: AbortSignal): Promise<Msg<ReplyName<M['type']>>> {
    const r = await this.send(msg, signal);
    const want = `R${msg.type.slice(1)}`;
    if (r.type !== want) throw new FsError('EIO', `protocol botch: ${r.type} in reply to ${msg.type}`);
    return r as Msg<ReplyName<M['type']>>;
  }

  /** Tversion, which uses NOTAG and is sent before anything else. */
  version(msize: number, version: string): Promise<Msg<'Rversion'>> {
    return this.send({ type: 'Tversion', msize, version }, undefined, NOTAG) as Promise<Msg<'Rversion'>>;
  }

  /** Hangs up; pending requests reject with ECONNRESET. */
  close(): void {
    this.shutdown(new FsError('ECONNRESET', 'connection closed'), undefined);
  }

  private send(msg: Untagged<TMessage>, signal?: AbortSignal, fixedTag?: number): Promise<RMessage> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(new FsError('EINTR', 'interrupted'));
    const tag = fixedTag ?? this.allocTag();
    if (tag === undefined) return Promise.reject(new FsError('EAGAIN', 'too many 9P requests in flight'));
    let buf: Buffer;
    try {
      buf = pack({ ...msg, tag } as Message);
    } catch (err) {
      return Promise.reject(new FsError('EINVAL', (err as Error).message));
    }
    if (buf.length > this.msize) {
      return Promise.reject(new FsError('E2BIG', `${msg.type} of ${buf.length} bytes exceeds msize ${this.msize}`));
    }
    return new Promise<RMessage>((resolve, reject) => {
      const call: Call = {
        tag,
        type: msg.type,
        sentAt: Date.now(),
        settled: false,
        flushing: false,
        resolve,
        reject,
      };
      if (signal !== undefined) {
        const onAbort = () => this.flush(call);
        signal.addEventListener('abort', onAbort, { once: true });
        call.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.calls.set(tag, call);
      if (tracing(this.opts.log)) this.opts.log('-> %s', describe({ ...msg, tag } as Message));
      this.socket.write(buf);
    });
  }

  private flush(call: Call): void {
    if (call.settled || call.flushing || this.failure !== undefined) return;
    call.flushing = true;
    const done = () => {
      this.reserved.delete(call.tag);
      if (!call.settled) {
        this.calls.delete(call.tag);
        this.settle(call, () => call.reject(new FsError('EINTR', 'interrupted')));
      }
    };
    const tag = this.allocTag();
    if (tag === undefined) {
      // No spare tag for the flush: the call simply runs to completion.
      call.flushing = false;
      return;
    }
    this.send({ type: 'Tflush', oldtag: call.tag }, undefined, tag).then(done, done);
  }

  private allocTag(): number | undefined {
    for (let i = 0; i < NOTAG; i++) {
      const tag = this.nextTag;
      this.nextTag = (this.nextTag + 1) % NOTAG;
      if (!this.calls.has(tag) && !this.reserved.has(tag)) return tag;
    }
    return undefined;
  }

  private onData(chunk: Buffer): void {
    this.framer.append(chunk);
    this.pump();
  }

  /** Handles the replies the framer has whole. */
  private pump(): void {
    this.lastHeard = Date.now();
    try {
      for (let frame = this.framer.next(); frame !== undefined && this.failure === undefined; ) {
        const msg = unpack(frame, this.framer.maxSize);
        // Its own pooled frame: the reader may recycle it, or send it on (FramedRread).
        if (msg.type === 'Rread' && isPooled(frame)) (msg as unknown as FramedRread).frame = frame;
        this.onReply(msg);
        frame = this.failure === undefined ? this.framer.next() : undefined;
      }
    } catch (err) {
      this.fail(new Error(`malformed reply: ${(err as Error).message}`));
    }
  }

  private onReply(msg: Message): void {
    if (tracing(this.opts.log)) this.opts.log('<- %s', describe(msg));
    const call = this.calls.get(msg.tag);
    if (call === undefined || msg.type.startsWith('T')) {
      this.opts.log('ignoring %s for tag %d: nothing is waiting for it', msg.type, msg.tag);
      return;
    }
    this.calls.delete(msg.tag);
    if (call.flushing) this.reserved.add(call.tag); // until the Rflush
    if (msg.type === 'Rerror') {
      this.settle(call, () => call.reject(errorFromString(msg.ename)));
    } else {
      this.settle(call, () => call.resolve(msg as RMessage));
    }
  }

  private settle(call: Call, fn: () => void): void {
    if (call.settled) return;
    call.settled = true;
    call.detach?.();
    fn();
  }

  private keepalive(timeoutMs: number): void {
    const now = Date.now();
    // A check that comes late: this process (or the whole machine, server
    // too) stalled, and timers run before the loop polls the socket, so an
    // answer may be waiting unread. The server gets one more interval (and
    // we one poll) before it is judged: a live server never dies of a stall.
    const late = now - this.lastCheck > timeoutMs / 2;
    this.lastCheck = now;
    if (late) return;
    const silent = now - this.lastHeard;
    if (silent >= timeoutMs) {
      for (const c of this.calls.values()) {
        if (now - c.sentAt >= timeoutMs) {
          this.fail(new Error(`no answer from the server for ${silent} ms`));
          return;
        }
      }
    }
    if (silent >= timeoutMs / 3 && !this.pinging && this.ping !== undefined) {
      this.pinging = true;
      this.send(this.ping())
        .catch(() => undefined) // an Rerror is still an answer
        .finally(() => (this.pinging = false));
    }
  }

  private fail(err: Error): void {
    this.shutdown(new FsError('ECONNRESET', `connection lost: ${err.message}`), err);
  }

  private shutdown(failure: FsError, cause: Error | undefined): void {
    if (this.failure !== undefined) return;
    this.failure = failure;
    clearInterval(this.timer);
    if (cause !== undefined) this.opts.log('connection lost: %s', cause.message);
    const calls = [...this.calls.values()];
    this.calls.clear();
    this.reserved.clear();
    for (const c of calls) this.settle(c, () => c.reject(failure));
    this.socket.destroy();
    this.resolveClosed(cause);
  }
}
