/**
 * The client's round-trip savers: nodes named without a walk (`at`), fids
 * walked ahead of their open or remove (`prewalk`, `SpareFid`), and whole snapshot
 * reads that stop at a short read (`readSnapshot`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import type { FileStat, Node, OpenFile } from '../../../src/ns/types.js';
import { QTFILE } from '../../../src/ns/types.js';
import type { NinepClient } from '../../../src/ninep/client.js';
import { connect } from '../../../src/ninep/client.js';
import { IOHDRSZ, MIN_MSIZE } from '../../../src/ninep/constants.js';
import { readSnapshot } from '../../../src/ns/handles.js';
import { SpareFid } from '../../../src/ninep/remote.js';
import type { Listener } from '../../../src/ninep/server.js';
import { listen } from '../../../src/ninep/server.js';
import type { TestTree } from '../../helpers/test-tree.js';
import { MTIME, TextFile, makeTree } from '../../helpers/test-tree.js';

/** A text whose reads are counted. */
class CountedFile implements Node {
  reads = 0;
  constructor(
    readonly name: string,
    private readonly text: Buffer,
  ) {}
  async stat(): Promise<FileStat> {
    return {
      name: this.name,
      qid: { type: QTFILE, version: 0, path: 77n },
      mode: 0o444,
      length: 0,
      mtime: MTIME,
      uid: 'u',
      gid: 'g',
    };
  }
  async open(): Promise<OpenFile> {
    return {
      read: async (offset, count) => {
        this.reads++;
        return this.text.subarray(offset, offset + count);
      },
      write: async () => {
        throw new FsError('EBADF', 'not open for writing');
      },
      close: async () => undefined,
    };
  }
}

let tree: TestTree;
let listener: Listener;
let client: NinepClient;

async function start(msize?: number): Promise<void> {
  listener = await listen('tcp!127.0.0.1!0', () => tree.root);
  client = await connect(listener.address, { msize });
}

const fidsOnServer = () => listener.connections()[0]!.stats().fids;

beforeEach(() => {
  tree = makeTree();
});

afterEach(async () => {
  await client?.close();
  await listener?.close();
});

describe('at', () => {
  it('names a node without a request; a missing one fails when used', async () => {
    await start();
    const before = tree.log.opens;
    const hello = client.root.at('hello');
    expect(client.pending).toBe(0);
    const f = await hello.open({ read: true, write: false });
    expect((await readSnapshot(f)).toString()).toBe('hello, world\n');
    await f.close();
    expect(tree.log.opens).toBe(before + 1);
    expect((await client.root.at('sub').at('deep').stat()).name).toBe('deep');
    await expect(client.root.at('nope').open({ read: true, write: false })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(client.root.at('nope').stat()).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => client.root.at('..')).toThrow(FsError);
  });
});

describe('prewalk', () => {
  it('walks at once; the open or remove that follows uses that fid', async () => {
    await start();
    const base = fidsOnServer();
    const walked = client.root.at('hello').prewalk();
    expect(client.pending).toBe(1); // the Twalk is on its way
    await new Promise((r) => setTimeout(r, 20));
    expect(fidsOnServer()).toBe(base + 1);
    const f = await walked.open({ read: true, write: false });
    expect(fidsOnServer()).toBe(base + 1); // opened, not walked again
    expect((await f.read(0, 5)).toString()).toBe('hello');
    await f.close();
    expect(fidsOnServer()).toBe(base);
    await expect(walked.open({ read: true, write: false })).rejects.toMatchObject({ code: 'EBADF' });

    const gone = client.root.at('sub').at('gone').prewalk();
    await gone.remove();
    expect(tree.log.removed).toEqual(['gone']);
    expect(fidsOnServer()).toBe(base);
  });

  it('discard clunks the walked fid; a failed walk is reported by its use', async () => {
    await start();
    const base = fidsOnServer();
    const walked = client.root.at('hello').prewalk();
    walked.discard();
    walked.discard();
    await new Promise((r) => setTimeout(r, 20));
    expect(fidsOnServer()).toBe(base);

    const missing = client.root.at('nope').prewalk();
    await expect(missing.open({ read: true, write: false })).rejects.toMatchObject({ code: 'ENOENT' });
    client.root.at('nope').prewalk().discard(); // nothing to clunk, and no unhandled rejection
    await new Promise((r) => setTimeout(r, 20));
    expect(fidsOnServer()).toBe(base);
  });
});

describe('SpareFid', () => {
  it('keeps one fid walked ahead, and walks the next as one is taken', async () => {
    await start();
    const base = fidsOnServer();
    const spare = new SpareFid(client.root.at('hello'));
    await new Promise((r) => setTimeout(r, 20));
    expect(fidsOnServer()).toBe(base + 1);
    for (let i = 0; i < 2; i++) {
      const f = await spare.take().open({ read: true, write: false });
      expect((await readSnapshot(f)).toString()).toBe('hello, world\n');
      await f.close();
      await new Promise((r) => setTimeout(r, 20));
      expect(fidsOnServer()).toBe(base + 1); // the next spare
    }
  });
});

describe('readSnapshot', () => {
  it('takes a short read as the end: one read for a small file', async () => {
    const small = new CountedFile('small', Buffer.from('0 1 2 3'));
    tree.root.add('small', small);
    await start();
    const f = await client.root.at('small').open({ read: true, write: false });
    expect((await readSnapshot(f)).toString()).toBe('0 1 2 3');
    expect(small.reads).toBe(1);
    await f.close();
  });

  it('reads a file larger than the iounit whole', async () => {
    const iounit = MIN_MSIZE - IOHDRSZ;
    for (const length of [3 * iounit + 17, 2 * iounit]) {
      const text = Buffer.from(Array.from({ length }, (_, i) => 97 + (i % 26)));
      const big = new CountedFile('big', text);
      tree = makeTree();
      tree.root.add('big', big);
      await client?.close();
      await listener?.close();
      await start(MIN_MSIZE);
      const f = await client.root.at('big').open({ read: true, write: false });
      expect(f.iounit).toBe(iounit);
      expect(await readSnapshot(f)).toEqual(text);
      expect(big.reads).toBe(Math.floor(length / iounit) + 1);
      await f.close();
    }
  });

  it('reads an empty file', async () => {
    tree.root.add('empty', new TextFile('empty', 79n, '', tree.log));
    await start();
    const f = await client.root.at('empty').open({ read: true, write: false });
    expect((await readSnapshot(f)).length).toBe(0);
    await f.close();
  });
});
