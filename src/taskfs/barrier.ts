/**
 * The co-allocation barrier of one session (README "Co-allocation"), after
 * DUROC's: a leaf's read of `barrier` arrives and waits; the root releases
 * once every leaf has arrived (or on `release`, after `barrier manual`); a
 * required leaf that ends before the release fails every waiter.
 *
 * Counts flow up and decisions flow down through the same file: a parent
 * opens each child's `barrier` for reading and writing (a watch). Its reads
 * stream `ARRIVED TOTAL STATE` lines as they change; its writes carry
 * `release` and `fail REASON` down. A leaf opens it read-only, and that
 * read is its arrival. Local slots and remote children are watched alike.
 */
import { setMaxListeners } from 'node:events';
import { FsError, asFsError } from '../ns/errors.js';
import { park, wakeAll } from '../ns/park.js';
import type { OpenFile } from '../ns/types.js';
import type { BoundSession } from '../nodes/bound-session.js';
import { runCtl, type VerbTable } from './ctl.js';
import { quote, tokenize } from '../ns/quote.js';

export type BarrierState = 'Idle' | 'Waiting' | 'Released' | 'Failed';

export interface BarrierCount {
  arrived: number;
  total: number;
  state: BarrierState;
  reason?: string;
}

/** What the barrier needs to know of its session. */
export interface BarrierHost {
  /** No parent releases this session: it decides. */
  isRoot(): boolean;
  /** Its share was marked optional: a leaf that ends is left out, not a failure. */
  optional(): boolean;
  /** A leaf whose run has ended: why (the wait status); undefined while it runs. */
  leafEnded(): string | undefined;
  /** Names the leaf in a failure: "rank 2 (cmd/5)". */
  leafName(): string;
  /** The bound children, for an inner session. */
  children(): readonly BoundSession[];
  isOptional(child: BoundSession): boolean;
}

/** A parent's watch of one child: the last line it read, and the open file. */
interface Watch {
  child: BoundSession;
  count: BarrierCount;
  file: Promise<OpenFile | undefined>;
}

export class Barrier {
  manual = false;
  private active = false;
  private released = false;
  private failure?: string;
  private arrivedHere = false;
  private watches: Watch[] = [];
  private stopWatching = watchStopper();
  private readonly waiters = new Set<() => void>();

  constructor(private readonly host: BarrierHost) {}

  /** A new exec: a fresh barrier. An inner session then watches its children (watch()). */
  reset(): void {
    if (this.watches.length > 0) {
      // Only an inner session watches: a leaf's reset (most of them) makes no abort and its costly DOMException.
      this.stopWatching.abort();
      for (const w of this.watches) void w.file.then((f) => f?.close()).catch(() => undefined);
      this.watches = [];
      this.stopWatching = watchStopper();
    }
    this.active = true;
    this.released = false;
    this.failure = undefined;
    this.arrivedHere = false;
    this.changed();
  }

  /** The session was released: nothing to watch or wait for any more. */
  stop(): void {
    this.reset();
    this.active = false;
    this.failure = 'the session was released';
    this.changed();
  }

  get isReleased(): boolean {
    return this.released;
  }

  count(): BarrierCount {
    if (!this.active) return { arrived: 0, total: 0, state: 'Idle' };
    const decided = this.failure ? 'Failed' : this.released ? 'Released' : undefined;
    const c = this.watches.length > 0 || this.host.children().length > 0 ? this.innerCount() : this.leafCount();
    if (decided) return { ...c, state: decided, reason: this.failure };
    return c;
  }

  private leafCount(): BarrierCount {
    const ended = this.host.leafEnded();
    const arrived = this.arrivedHere ? 1 : 0;
    // An optional leaf that ended without arriving is left out of the count.
    if (ended !== undefined && !arrived && this.host.optional()) return { arrived: 0, total: 0, state: 'Waiting' };
    if (ended === undefined || this.released || this.host.optional()) return { arrived, total: 1, state: 'Waiting' };
    const reason = `${this.host.leafName()} ended before the barrier's release (${ended})`;
    return { arrived, total: 1, state: 'Failed', reason };
  }

  private innerCount(): BarrierCount {
    const sum: BarrierCount = { arrived: 0, total: 0, state: 'Waiting' };
    for (const w of this.watches) {
      sum.arrived += w.count.arrived;
      sum.total += w.count.total;
      if (w.count.state === 'Failed' && !sum.reason) {
        sum.state = 'Failed';
        sum.reason = w.count.reason;
      }
    }
    return sum;
  }

  /** Something below changed: wake watchers and waiters; the root decides. */
  changed(): void {
    wakeAll(this.waiters);
    if (!this.active || this.released || this.failure || !this.host.isRoot()) return;
    const c = this.count();
    if (c.state === 'Failed') this.fail(c.reason ?? 'a leaf failed');
    else if (!this.manual && c.arrived === c.total && this.settled()) this.release();
  }

  /** Every child has said something: a root never releases on counts it has not heard yet. */
  private settled(): boolean {
    if (this.host.children().length === 0) return this.arrivedHere;
    return this.watches.length === this.host.children().length && this.watches.every((w) => w.count.state !== 'Idle');
  }

  release(): void {
    if (this.released || this.failure) return;
    this.released = true;
    this.tellChildren('release');
    this.changed();
  }

  fail(reason: string): void {
    if (this.released || this.failure) return;
    this.failure = reason;
    this.tellChildren(`fail ${quote(reason)}`);
    this.changed();
  }

  /** `release` on the root ctl. */
  releaseVerb(): void {
    if (!this.host.isRoot()) throw new FsError('EINVAL', 'release: not a root session (its parent releases it)');
    if (!this.active || this.released || this.failure)
      throw new FsError('EINVAL', `release: no barrier pending (${this.count().state})`);
    this.release();
  }

  setManual(manual: boolean, executed: boolean): void {
    if (!this.host.isRoot()) throw new FsError('EINVAL', 'barrier: not a root session (its parent releases it)');
    if (executed) throw new FsError('EBUSY', 'barrier: the job has started; say it before the first exec');
    this.manual = manual;
  }

  private tellChildren(line: string): void {
    for (const w of this.watches) {
      void w.file.then((f) => f?.write(Buffer.from(line + '\n'), 0)).catch(() => undefined);
    }
  }

  /** After an inner session's exec: watch each child's barrier. */
  watch(): void {
    const signal = this.stopWatching.signal;
    this.watches = this.host.children().map((child) => {
      const w: Watch = { child, count: { arrived: 0, total: 0, state: 'Idle' }, file: Promise.resolve(undefined) };
      w.file = openWatch(child).catch((err) => {
        this.lost(w, asFsError(err).message);
        return undefined;
      });
      void w.file.then((f) => f && this.follow(w, f, signal));
      return w;
    });
  }

  /** A child was dropped from the request: its leaves no longer count. */
  forget(child: BoundSession): void {
    const i = this.watches.findIndex((w) => w.child === child);
    if (i < 0) return;
    const [w] = this.watches.splice(i, 1);
    void w!.file.then((f) => f?.close()).catch(() => undefined);
    this.changed();
  }

  private async follow(w: Watch, file: OpenFile, signal: AbortSignal): Promise<void> {
    let offset = 0;
    let partial = '';
    try {
      for (;;) {
        const data = await file.read(offset, 4096, signal);
        if (data.length === 0) throw new FsError('EIO', 'its barrier ended');
        offset += data.length;
        const lines = (partial + data.toString()).split('\n');
        partial = lines.pop()!;
        const last = lines.at(-1);
        if (last !== undefined) {
          w.count = parseCount(last);
          this.changed();
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      this.lost(w, asFsError(err).message);
    }
  }

  /** A child that cannot be watched (its node is gone): a failure, or left out when optional. */
  private lost(w: Watch, why: string): void {
    if (!this.watches.includes(w)) return;
    // A required subjob keeps its last counts, so the root's line still says how many were expected.
    const { arrived, total } = w.count;
    w.count = this.host.isOptional(w.child)
      ? { arrived: 0, total: 0, state: 'Waiting' }
      : { arrived, total, state: 'Failed', reason: `a subjob was lost: ${why}` };
    this.changed();
  }

  // ---- the file ---------------------------------------------------------

  /** A leaf's read: arrive, then wait for the release (EOF) or a failure (ECANCELED). */
  async arrive(signal?: AbortSignal): Promise<void> {
    if (!this.arrivedHere) {
      this.arrivedHere = true;
      this.changed();
    }
    for (;;) {
      if (this.failure) throw new FsError('ECANCELED', `barrier failed: ${this.failure}`);
      if (this.released) return;
      await park(this.waiters, (wake) => wake, signal);
    }
  }

  /** The parent's watch: `ARRIVED TOTAL STATE` lines as they change, and its verbs. */
  watchHandle(onError: (e: FsError) => void): OpenFile {
    let text = '';
    let last = '';
    return {
      read: async (offset, count, signal) => {
        while (offset >= Buffer.byteLength(text)) {
          const line = formatCount(this.count());
          if (line !== last) {
            last = line;
            text += line;
          } else await park(this.waiters, (wake) => wake, signal);
        }
        return Buffer.from(text).subarray(offset, offset + count);
      },
      write: async (data) => {
        await runCtl(watchVerbs, this, data.toString(), 'barrier verb', onError);
        return data.length;
      },
      close: async () => undefined,
    };
  }
}

const watchVerbs: VerbTable<Barrier> = {
  release: { words: [0, 0], usage: 'release', run: (b) => b.release() },
  fail: { words: [1, 1], usage: 'fail REASON', run: (b, [why]) => b.fail(why!) },
};

/** Stops an inner session's watches: one pending read per child listens to it, so no listener limit. */
function watchStopper(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

async function openWatch(child: BoundSession): Promise<OpenFile> {
  const node = await child.dir.walk?.('barrier');
  if (!node?.open) throw new FsError('EIO', 'child has no barrier');
  return node.open({ read: true, write: true });
}

/** `ARRIVED TOTAL STATE ['REASON']`, the line of the root's barrier and of a watch. */
export function formatCount(c: BarrierCount): string {
  return `${c.arrived} ${c.total} ${c.state}${c.reason ? ` ${quote(c.reason)}` : ''}\n`;
}

export function parseCount(line: string): BarrierCount {
  const [arrived, total, state, reason] = tokenize(line.trim());
  const states: BarrierState[] = ['Idle', 'Waiting', 'Released', 'Failed'];
  if (!/^\d+$/.test(arrived ?? '') || !/^\d+$/.test(total ?? '') || !states.includes(state as BarrierState))
    return { arrived: 0, total: 0, state: 'Failed', reason: `bad barrier line from a child: ${line}` };
  return { arrived: Number(arrived), total: Number(total), state: state as BarrierState, reason };
}
