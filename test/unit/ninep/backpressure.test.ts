/**
 * Write back-pressure: a client that sends requests and never reads the
 * replies must not grow the server. When the socket refuses a write the
 * connection stops reading and parsing until 'drain'; the assertions are
 * on the connection's own counters, not on time.
 */
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileStat, Node, OpenFile } from '../../../src/ns/types.js';
import { QTFILE } from '../../../src/ns/types.js';
import { pack, unpack } from '../../../src/ninep/codec.js';
import { DEFAULT_MAX_PENDING, NOFID, NOTAG, OREAD } from '../../../src/ninep/constants.js';
import { Framer } from '../../../src/ninep/framer.js';
import type { Message } from '../../../src/ninep/messages.js';
import type { Connection, Listener } from '../../../src/ninep/server.js';
import { listen, serveConnection } from '../../../src/ninep/server.js';
import { MemDir } from '../../helpers/test-tree.js';

const MSIZE = 8192 + 24;
const READ = 8192;

/** Every read is `count` zero bytes: each Tread costs a whole msize of reply. */
class ZeroFile implements Node {
  async stat(): Promise<FileStat> {
    return {
      name: 'zeros',
      qid: { type: QTFILE, version: 0, path: 2n },
      mode: 0o444,
      length: 0,
      mtime: 0,
      uid: 'u',
      gid: 'u',
    };
  }
  async open(): Promise<OpenFile> {
    return {
      async read(_offset, count) {
        return Buffer.alloc(count);
      },
      async write() {
        return 0;
      },
      async close() {},
    };
  }
}

const root = new MemDir('', 1n, { opens: 0, closes: 0, writes: [], removed: [] }).add('zeros', new ZeroFile());

const handshake: Message[] = [
  { type: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000' },
  { type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'u', aname: '' },
  { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['zeros'] },
  { type: 'Topen', tag: 3, fid: 1, mode: OREAD },
];

/** n Treads of the zero file, tags 10.. (wrapping below NOTAG). */
function treads(n: number): Buffer {
  return Buffer.concat(
    Array.from({ length: n }, (_, i) =>
      pack({ type: 'Tread', tag: 10 + (i % 60000), fid: 1, offset: 0n, count: READ }),
    ),
  );
}

/**
 * The server's end of a socket whose peer has stopped reading: the "kernel"
 * takes `room` bytes, then holds every write until release().
 */
class StuckSocket extends Duplex {
  taken = 0;
  replies = 0;
  /** How many of each reply type, e.g. { Rread: 300, Rerror: 2000 }. */
  readonly types: Record<string, number> = {};
  private held: (() => void)[] = [];
  private readonly framer = new Framer(1 << 24);

  constructor(private room: number) {
    super({ read() {} });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const f of this.framer.push(chunk)) {
      this.replies++;
      const t = unpack(f).type;
      this.types[t] = (this.types[t] ?? 0) + 1;
    }
    this.taken += chunk.length;
    if (this.taken <= this.room) cb();
    else this.held.push(cb);
  }

  release(): void {
    this.room = Infinity;
    for (const cb of this.held.splice(0)) cb();
  }
}

const settle = () => new Promise((r) => setImmediate(r));

let conn: Connection | undefined;
let listener: Listener | undefined;

afterEach(async () => {
  conn?.close();
  await conn?.closed;
  await listener?.close();
  conn = listener = undefined;
});

describe('write back-pressure', () => {
  it('a client that never reads: reading stops, queued replies stay bounded, and all is answered on drain', async () => {
    const sock = new StuckSocket(64 * 1024);
    conn = serveConnection(sock, () => root, { msize: MSIZE });
    // One at a time: a 9P client waits for Rattach before walking from its fid.
    for (const m of handshake) {
      sock.push(pack(m));
      for (let i = 0; i < 5; i++) await settle();
    }
    expect(sock.types).toEqual({ Rversion: 1, Rattach: 1, Rwalk: 1, Ropen: 1 });

    // 20,000 reads would be 160 MiB of replies. Fed in 4 KiB chunks, as a socket would.
    const N = 20_000;
    const all = treads(N);
    for (let off = 0; off < all.length; off += 4096) sock.push(all.subarray(off, off + 4096));
    for (let i = 0; i < 10; i++) await settle();

    const s = conn.stats();
    expect(s.paused).toBe(true);
    // What is queued is at most what was in flight when the socket filled.
    expect(s.peakQueuedBytes).toBeLessThanOrEqual(DEFAULT_MAX_PENDING * MSIZE + 64 * 1024);
    expect(s.queuedBytes).toBeLessThanOrEqual(DEFAULT_MAX_PENDING * MSIZE + 64 * 1024);
    // Unparsed input is at most one chunk; the rest waits in the stream, unread.
    expect(s.unreadBytes).toBeLessThanOrEqual(4096);
    expect(sock.readableLength).toBeGreaterThan(all.length / 2);
    const answeredWhileStuck = sock.replies;
    expect(answeredWhileStuck).toBeLessThan(N / 10);

    // Nothing moves while the socket stays full.
    for (let i = 0; i < 10; i++) await settle();
    expect(sock.replies).toBe(answeredWhileStuck);

    // The peer reads again: everything is answered, and reading resumed.
    sock.release();
    for (let i = 0; i < 10_000 && sock.replies < N + 4; i++) await settle();
    expect(sock.replies).toBe(N + 4);
    expect(conn.stats()).toMatchObject({ paused: false, pending: 0, unreadBytes: 0 });
    // Reads beyond maxPending were refused at once, the rest answered in full.
    expect(sock.types.Rread).toBeGreaterThanOrEqual(DEFAULT_MAX_PENDING);
    expect(sock.types.Rread! + (sock.types.Rerror ?? 0)).toBe(N);
  });

  it('over TCP: a client that never reads holds the server to the in-flight bound', async () => {
    listener = await listen('tcp!127.0.0.1!0', () => root, { msize: MSIZE });
    const port = Number(listener.address.split('!')[2]);
    const sock = netConnect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    try {
      const framer = new Framer(1 << 24);
      const types: string[] = [];
      const onData = (d: Buffer) => {
        for (const f of framer.push(d)) types.push(unpack(f).type);
      };
      sock.on('data', onData);
      for (const [i, m] of handshake.entries()) {
        sock.write(pack(m));
        while (types.length <= i) await new Promise((r) => setTimeout(r, 5));
      }
      expect(types).toEqual(['Rversion', 'Rattach', 'Rwalk', 'Ropen']);
      // From here on the client never reads.
      sock.off('data', onData);
      sock.pause();

      // 100,000 reads: 800 MiB of replies, far beyond any socket buffer.
      const N = 100_000;
      sock.write(treads(N));
      const server = listener.connections()[0]!;
      for (let i = 0; i < 2000 && !server.stats().paused; i++) await new Promise((r) => setTimeout(r, 5));
      const s = server.stats();
      expect(s.paused).toBe(true);
      expect(s.peakQueuedBytes).toBeLessThanOrEqual(DEFAULT_MAX_PENDING * MSIZE + 128 * 1024);
      expect(s.unreadBytes).toBeLessThanOrEqual(128 * 1024);
      // And it stays so: the rest of the requests wait in the kernel, unread.
      await new Promise((r) => setTimeout(r, 200));
      expect(server.stats()).toMatchObject({ paused: true, peakQueuedBytes: s.peakQueuedBytes });
    } finally {
      sock.destroy();
    }
  });
});
