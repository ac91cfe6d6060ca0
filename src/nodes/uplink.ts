/**
 * How a leaf on a child machine reaches its root session (README
 * "Co-allocation: reaching the root"). The parent already holds a 9P
 * connection to the child; it opens the child session's `import` file and
 * keeps a read pending on it. The child's 9P client writes its requests
 * into that file (they are what the parent's reads return) and the parent
 * answers them, by serving a small tree of its own, with its writes. No
 * port, no dial back: it works wherever the parent can reach the child.
 *
 * UplinkEnd is the child's side; serveUplink the parent's.
 */
import { Duplex } from 'node:stream';
import { FsError } from '../ns/errors.js';
import { park, wakeAll } from '../ns/park.js';
import type { Node, OpenFile } from '../ns/types.js';
import { connectStream, type NinepClient } from '../ninep/client.js';
import { serveConnection } from '../ninep/server.js';

/** What one parent read of `import` returns at most. */
const CHUNK_BYTES = 64 * 1024;

export class UplinkEnd {
  /** Bytes our client sent, waiting for the parent's next read. */
  private outgoing: Buffer[] = [];
  private readonly waiters = new Set<() => void>();
  private ended = false;
  private held = false;
  private client?: Promise<NinepClient>;
  private readonly stream: Duplex;

  constructor(private readonly label: string) {
    this.stream = new Duplex({
      read: () => undefined, // the parent's writes push
      write: (chunk: Buffer, _enc, done) => {
        this.outgoing.push(chunk);
        this.wake();
        done();
      },
      final: (done) => {
        this.end();
        done();
      },
    });
    this.stream.on('error', () => this.end());
  }

  /** A parent holds the other end: the root is reachable through it. */
  get connected(): boolean {
    return this.held && !this.ended;
  }

  /** The `import` file as the parent opens it (once). */
  parentHandle(): OpenFile {
    if (this.held) throw new FsError('EBUSY', 'import: a parent holds it already');
    this.held = true;
    return {
      read: async (_offset, count, signal) => {
        while (this.outgoing.length === 0) {
          if (this.ended) return Buffer.alloc(0);
          await park(this.waiters, (wake) => wake, signal);
        }
        const all = Buffer.concat(this.outgoing);
        const n = Math.min(count, CHUNK_BYTES, all.length);
        this.outgoing = n < all.length ? [all.subarray(n)] : [];
        return all.subarray(0, n);
      },
      write: async (data) => {
        if (this.ended) throw new FsError('EIO', 'import: closed');
        this.stream.push(Buffer.from(data));
        return data.length;
      },
      close: async () => this.close(),
    };
  }

  /** The tree the parent serves (`root`, `parent`), dialed on first use. */
  async tree(): Promise<Node> {
    if (!this.connected) throw new FsError('ENOENT', `${this.label}: no parent holds this session's import`);
    this.client ??= connectStream(this.stream, this.label);
    return (await this.client).root;
  }

  close(): void {
    if (this.ended) return;
    this.end();
    void this.client?.then((c) => c.close()).catch(() => undefined);
    this.stream.destroy();
  }

  private end(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    wakeAll(this.waiters);
  }
}

/**
 * The parent's side: answer the 9P requests the child writes into `file`
 * (its `import`) by serving `tree`. Ends when the file ends (the child
 * released the session) or `signal` aborts.
 */
export function serveUplink(file: OpenFile, tree: () => Node, signal: AbortSignal): void {
  const stream = new Duplex({
    read: () => undefined,
    write: (chunk: Buffer, _enc, done) => {
      file.write(chunk, 0).then(
        () => done(),
        (err: Error) => done(err),
      );
    },
  });
  stream.on('error', () => stream.destroy());
  serveConnection(stream, tree);
  void (async () => {
    try {
      for (;;) {
        const data = await file.read(0, CHUNK_BYTES, signal);
        if (data.length === 0) break;
        stream.push(data);
      }
    } catch {
      // the child or its node went away: the connection ends below
    }
    stream.destroy();
    await file.close().catch(() => undefined);
  })();
}
