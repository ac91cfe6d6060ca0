/**
 * The live page's feed (README "Web monitor", live updates): a snapshot of
 * the files every SAMPLE_MS and at once when asked (after an action), one
 * at a time; each kept as a sample for the plots and sent to every open
 * page as a server-sent event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import createDebug from 'debug';
import { asFsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { History, type Sample, sampleOf } from './history.js';
import { type Snapshot, takeSnapshot } from './snapshot.js';

const log = createDebug('taskfs:web');

/** How often the files are read: often enough to watch, cheap enough to forget (README measures it). */
export const SAMPLE_MS = 2000;

export class LiveFeed {
  private readonly history = new History();
  private readonly clients = new Set<ServerResponse>();
  private last?: Snapshot;
  private sampling = false;
  private again = false;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  /** `hello` is sent first on every stream, beside the history. */
  constructor(
    private readonly root: () => Node,
    private readonly hello: Record<string, unknown>,
  ) {
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS).unref();
    void this.sample();
  }

  samples(): readonly Sample[] {
    return this.history.all();
  }

  /** Something changed (an action): read the files now, not at the next tick. */
  changed(): void {
    void this.sample();
  }

  /** Answer `req` with the stream: `history` once, the latest `snapshot`, then each new one. */
  stream(req: IncomingMessage, res: ServerResponse, headers: Record<string, string>): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', ...headers });
    res.write(frame('history', { samples: this.history.all(), ...this.hello }));
    if (this.last) res.write(frame('snapshot', this.last));
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
    this.changed(); // the last snapshot may be two seconds old: a new page gets a fresh one at once
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private async sample(): Promise<void> {
    if (this.sampling) {
      this.again = true;
      return;
    }
    this.sampling = true;
    try {
      const snap = await takeSnapshot(this.root());
      const sample = sampleOf(snap);
      this.last = snap;
      this.history.add(sample);
      this.broadcast('snapshot', { ...snap, sample });
    } catch (err) {
      log('snapshot failed: %s', asFsError(err).message);
      this.broadcast('problem', { message: asFsError(err).message });
    } finally {
      this.sampling = false;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.sample();
      }
    }
  }

  private broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = frame(event, data);
    for (const c of this.clients) c.write(text);
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
