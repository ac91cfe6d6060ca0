/**
 * A file relayed through a middle 9P server (README "Performance"): the
 * middle node's client reads replies into pooled frames, its server sends a
 * whole reply frame on with its own tag, and the reader at the top copies
 * out and recycles. Three servers in one process share the frame pools, so
 * a frame recycled too early would show as wrong bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileStat, Node, OpenFile } from '../../../src/ns/types.js';
import { QTFILE } from '../../../src/ns/types.js';
import { type NinepClient, connect } from '../../../src/ninep/client.js';
import { listen } from '../../../src/ninep/server.js';
import { MemDir } from '../../helpers/test-tree.js';

const SIZE = 9 * 1024 * 1024 + 12345;
/** The file's bytes: no two 64 KiB blocks alike, so a reply in the wrong place shows. */
const PATTERN = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) PATTERN[i] = (i * 7 + (i >> 16)) & 0xff;

function stat(name: string): FileStat {
  return { name, qid: { type: QTFILE, version: 0, path: 2n }, mode: 0o444, length: SIZE, mtime: 0, uid: 'u', gid: 'u' };
}

/** The bottom: a file of SIZE patterned bytes, read in place like a leaf's spool. */
class Pattern implements Node {
  async stat(): Promise<FileStat> {
    return stat('out');
  }
  async open(): Promise<OpenFile> {
    const fill = (target: Buffer, offset: number) => PATTERN.copy(target, 0, Math.min(offset, SIZE), SIZE);
    return {
      read: async (offset, count) => {
        const b = Buffer.alloc(Math.max(0, Math.min(count, SIZE - offset)));
        fill(b, offset);
        return b;
      },
      readInto: async (target, offset) => fill(target, offset),
      write: async () => 0,
      close: async () => undefined,
    };
  }
}

/** The middle: the bottom's file through a 9P client, counting the replies passed on in their frames. */
class Relayed implements Node {
  framed = 0;
  constructor(private readonly below: NinepClient) {}
  async stat(): Promise<FileStat> {
    return stat('out');
  }
  async open(): Promise<OpenFile> {
    const node = await this.below.root.walk('out');
    const f = await node!.open!({ read: true, write: false });
    return {
      read: (o, n, s) => f.read(o, n, s),
      readFrame: async (o, n, s) => {
        const a = await f.readFrame!(o, n, s);
        if (a.frame !== undefined) this.framed++;
        return a;
      },
      write: async () => 0,
      close: () => f.close(),
    };
  }
}

let dir: string;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-relay-'));
  cleanups = [];
});

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function serve(name: string, file: Node): Promise<string> {
  const addr = `unix!${join(dir, name)}`;
  const root = new MemDir('', 1n, { opens: 0, closes: 0, writes: [], removed: [] }).add('out', file);
  const l = await listen(addr, () => root);
  cleanups.push(() => l.close());
  return addr;
}

async function dial(addr: string): Promise<NinepClient> {
  const c = await connect(addr);
  cleanups.push(() => c.close());
  return c;
}

describe('a file relayed through a middle server', () => {
  it('arrives byte for byte, the middle passing whole replies on in their frames', async () => {
    const bottom = await serve('bottom', new Pattern());
    const relayed = new Relayed(await dial(bottom));
    const top = await dial(await serve('middle', relayed));
    const f = await (await top.root.walk('out'))!.open!({ read: true, write: false });
    cleanups.push(() => f.close());
    // Reads of several sizes, as FUSE and dd make them: into a buffer (recycling) and by reference.
    const got = Buffer.alloc(SIZE);
    let off = 0;
    for (let k = 0; off < SIZE; k++) {
      const want = [128 * 1024, 4096, 1000, 300_000][k % 4]!;
      const n =
        k % 5 === 4 ? (await f.read(off, want)).copy(got, off) : await f.readInto!(got.subarray(off, off + want), off);
      expect(n).toBeGreaterThan(0);
      off += n;
    }
    expect(await f.readInto!(Buffer.alloc(10), SIZE)).toBe(0);
    expect(got.equals(PATTERN)).toBe(true);
    expect(relayed.framed).toBeGreaterThan(4);
  });

  it('many relayed replies queued at once each keep their own frame until sent', async () => {
    const bottom = await serve('bottom', new Pattern());
    const relayed = new Relayed(await dial(bottom));
    const top = await dial(await serve('middle', relayed));
    const MiB = 1024 * 1024;
    const files = await Promise.all(
      Array.from({ length: 8 }, async () => (await top.root.walk('out'))!.open!({ read: true, write: false })),
    );
    cleanups.push(() => Promise.all(files.map((f) => f.close())));
    for (let round = 0; round < 3; round++) {
      const bufs = files.map(() => Buffer.alloc(MiB));
      const at = (i: number) => ((i + round) % 9) * MiB;
      const counts = await Promise.all(files.map((f, i) => f.readInto!(bufs[i]!, at(i))));
      expect(counts).toEqual(files.map(() => MiB));
      expect(bufs.every((b, i) => b.equals(PATTERN.subarray(at(i), at(i) + MiB)))).toBe(true);
    }
    expect(relayed.framed).toBeGreaterThan(8);
  });
});
