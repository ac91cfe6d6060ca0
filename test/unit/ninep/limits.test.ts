/**
 * The server's limits per connection: fids, requests in flight, msize.
 * Each is refused with a clear Rerror (or, for an oversize frame, by
 * closing the connection) instead of growing without bound.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pack } from '../../../src/ninep/codec.js';
import {
  DEFAULT_MAX_FIDS,
  DEFAULT_MAX_PENDING,
  DEFAULT_MSIZE,
  NOFID,
  NOTAG,
  OREAD,
} from '../../../src/ninep/constants.js';
import type { Message } from '../../../src/ninep/messages.js';
import type { Connection, ServeOptions } from '../../../src/ninep/server.js';
import { serveConnection } from '../../../src/ninep/server.js';
import { duplexPair } from '../../helpers/duplex.js';
import { Peer } from '../../helpers/raw-peer.js';
import type { TestTree } from '../../helpers/test-tree.js';
import { makeTree } from '../../helpers/test-tree.js';

const MSIZE = 8192 + 24;

let tree: TestTree;
let peer: Peer;
let conn: Connection;

function start(opts: ServeOptions = {}): void {
  const [client, server] = duplexPair();
  conn = serveConnection(server, () => tree.root, { msize: MSIZE, ...opts });
  peer = new Peer(client);
}

async function rpc(msg: Message): Promise<Message> {
  peer.send(msg);
  return peer.next();
}

const rerror = (tag: number, ename: string) => ({ type: 'Rerror', tag, ename });

async function hello(): Promise<void> {
  expect(await rpc({ type: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000' })).toMatchObject({
    type: 'Rversion',
  });
  expect(await rpc({ type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '' })).toMatchObject({
    type: 'Rattach',
  });
}

beforeEach(() => {
  tree = makeTree();
});

afterEach(async () => {
  conn?.close();
  await conn?.closed;
});

describe('defaults', () => {
  it('4096 fids and 256 requests per connection, 128 KiB + 24 msize', () => {
    expect([DEFAULT_MAX_FIDS, DEFAULT_MAX_PENDING, DEFAULT_MSIZE]).toEqual([4096, 256, 1024 * 1024 + 24]);
  });
});

describe('maxFids', () => {
  it('Twalk, Tattach and Tauth beyond it are "too many open files"; a clunk makes room', async () => {
    start({ maxFids: 3, key: Buffer.from('k'), warn: () => undefined });
    expect(await rpc({ type: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000' })).toMatchObject({
      type: 'Rversion',
    });
    // Three auth fids fill the table (auth fids count: they are fids).
    for (const afid of [10, 11, 12]) {
      expect(await rpc({ type: 'Tauth', tag: 1, afid, uname: 'glenda', aname: '' })).toMatchObject({ type: 'Rauth' });
    }
    expect(await rpc({ type: 'Tauth', tag: 1, afid: 13, uname: 'glenda', aname: '' })).toEqual(
      rerror(1, 'too many open files'),
    );
    expect(conn.stats().fids).toBe(3);
  });

  it('a walk to a new fid is refused at the limit; a walk in place is not', async () => {
    start({ maxFids: 3 });
    await hello();
    expect(await rpc({ type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['sub'] })).toMatchObject({ type: 'Rwalk' });
    expect(await rpc({ type: 'Twalk', tag: 2, fid: 0, newfid: 2, wnames: ['hello'] })).toMatchObject({ type: 'Rwalk' });
    expect(await rpc({ type: 'Twalk', tag: 2, fid: 0, newfid: 3, wnames: ['hello'] })).toEqual(
      rerror(2, 'too many open files'),
    );
    expect(await rpc({ type: 'Tattach', tag: 3, fid: 4, afid: NOFID, uname: 'glenda', aname: '' })).toEqual(
      rerror(3, 'too many open files'),
    );
    // newfid == fid replaces, it does not add.
    expect(await rpc({ type: 'Twalk', tag: 4, fid: 1, newfid: 1, wnames: ['deep'] })).toMatchObject({ type: 'Rwalk' });
    expect(conn.stats().fids).toBe(3);
    expect(await rpc({ type: 'Tclunk', tag: 5, fid: 2 })).toMatchObject({ type: 'Rclunk' });
    expect(await rpc({ type: 'Twalk', tag: 6, fid: 0, newfid: 3, wnames: ['hello'] })).toMatchObject({ type: 'Rwalk' });
  });

  it('walks racing for the last slot: only one binds', async () => {
    start({ maxFids: 2 });
    await hello();
    // Both pass the first check before either commits; the second commit must see the first.
    peer.send({ type: 'Twalk', tag: 10, fid: 0, newfid: 1, wnames: ['sub', 'deep'] });
    peer.send({ type: 'Twalk', tag: 11, fid: 0, newfid: 2, wnames: ['sub', 'deep'] });
    const replies = [await peer.next(), await peer.next()].sort((a, b) => a.tag - b.tag);
    expect(replies.map((r) => r.type)).toEqual(['Rwalk', 'Rerror']);
    expect(conn.stats().fids).toBe(2);
  });
});

describe('maxPending', () => {
  /** Opens `block` on fids 1..n. */
  async function openBlocks(n: number): Promise<void> {
    for (let fid = 1; fid <= n; fid++) {
      expect(await rpc({ type: 'Twalk', tag: 2, fid: 0, newfid: fid, wnames: ['block'] })).toMatchObject({
        type: 'Rwalk',
      });
      expect(await rpc({ type: 'Topen', tag: 2, fid, mode: OREAD })).toMatchObject({ type: 'Ropen' });
    }
  }

  it('the request beyond it is refused at once; Tflush still gets through', async () => {
    start({ maxPending: 4 });
    await hello();
    await openBlocks(4);
    for (let fid = 1; fid <= 4; fid++) peer.send({ type: 'Tread', tag: 100 + fid, fid, offset: 0n, count: 10 });
    await peer.drain(20);
    expect(conn.stats().pending).toBe(4);
    expect(tree.block.waiting).toBe(4);
    // Refused, not queued: the answer comes while the four still block.
    expect(await rpc({ type: 'Tstat', tag: 200, fid: 0 })).toEqual(rerror(200, 'too many requests in flight'));
    expect(await rpc({ type: 'Tread', tag: 201, fid: 1, offset: 0n, count: 10 })).toEqual(
      rerror(201, 'too many requests in flight'),
    );
    expect(conn.stats().pending).toBe(4);
    // A client at the limit can still flush what blocks.
    expect(await rpc({ type: 'Tflush', tag: 300, oldtag: 101 })).toEqual({ type: 'Rflush', tag: 300 });
    expect(conn.stats().pending).toBe(3);
    expect(await rpc({ type: 'Tstat', tag: 202, fid: 0 })).toMatchObject({ type: 'Rstat', tag: 202 });
  });

  it('flushes have their own bound (twice the limit in all)', async () => {
    start({ maxPending: 2, flushGraceMs: 60_000 });
    await hello();
    await openBlocks(1);
    // A read that ignores its flush, so every Tflush for it stays pending.
    expect(await rpc({ type: 'Twalk', tag: 2, fid: 0, newfid: 9, wnames: ['slow'] })).toMatchObject({ type: 'Rwalk' });
    expect(await rpc({ type: 'Topen', tag: 2, fid: 9, mode: OREAD })).toMatchObject({ type: 'Ropen' });
    peer.send({ type: 'Tread', tag: 50, fid: 9, offset: 0n, count: 10 });
    peer.send({ type: 'Tread', tag: 51, fid: 1, offset: 0n, count: 10 });
    for (const t of [60, 61]) peer.send({ type: 'Tflush', tag: t, oldtag: 50 });
    await peer.drain(20);
    expect(conn.stats().pending).toBe(4);
    expect(await rpc({ type: 'Tflush', tag: 62, oldtag: 50 })).toEqual(rerror(62, 'too many requests in flight'));
  });
});

describe('msize', () => {
  it('an enormous msize gets the server maximum', async () => {
    start();
    expect(await rpc({ type: 'Tversion', tag: NOTAG, msize: 0xffffffff, version: '9P2000' })).toEqual({
      type: 'Rversion',
      tag: NOTAG,
      msize: MSIZE,
      version: '9P2000',
    });
  });

  it('a frame larger than the negotiated msize closes the connection, unanswered', async () => {
    start();
    expect(await rpc({ type: 'Tversion', tag: NOTAG, msize: 4096, version: '9P2000' })).toMatchObject({ msize: 4096 });
    expect(await rpc({ type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '' })).toMatchObject({
      type: 'Rattach',
    });
    // Well formed, and within the server's own maximum, but over what was agreed.
    const frame = pack({ type: 'Twrite', tag: 2, fid: 0, offset: 0n, data: Buffer.alloc(5000) });
    expect(frame.length).toBeLessThan(MSIZE);
    peer.sendRaw(frame);
    await conn.closed;
    expect(await peer.drain(10)).toEqual([]);
    expect(peer.closed).toBe(true);
  });

  it('a size field claiming 4 GiB is refused from the first four bytes', async () => {
    start();
    peer.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await conn.closed;
    expect(conn.stats().unreadBytes).toBe(4);
  });
});
