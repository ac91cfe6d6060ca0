/** The 9P client against the 9P server over real sockets (TCP on 127.0.0.1 and a unix socket). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import type { Node } from '../../../src/ns/types.js';
import { isDir } from '../../../src/ns/types.js';
import { parseAddress } from '../../../src/ninep/address.js';
import type { NinepClient } from '../../../src/ninep/client.js';
import { connect } from '../../../src/ninep/client.js';
import type { Listener } from '../../../src/ninep/server.js';
import { listen } from '../../../src/ninep/server.js';
import { freezableProxy, silentServer } from '../../helpers/silent-net.js';
import type { TestTree } from '../../helpers/test-tree.js';
import { type MemDir, TextFile, makeTree } from '../../helpers/test-tree.js';

let dir: string;
let tree: TestTree;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-9p-'));
  tree = makeTree();
  cleanups = [];
});

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function serve(addr: string, sockets?: Socket[]): Promise<Listener> {
  const l = await listen(addr, () => tree.root, { onConnection: (_c, s) => sockets?.push(s) });
  cleanups.push(() => l.close());
  return l;
}

async function dial(addr: string, opts?: Parameters<typeof connect>[1]): Promise<NinepClient> {
  const c = await connect(addr, opts);
  cleanups.push(() => c.close());
  return c;
}

async function walkPath(node: Node, ...names: string[]): Promise<Node> {
  for (const n of names) {
    const next = await node.walk!(n);
    if (next === undefined) throw new Error(`no ${n}`);
    node = next;
  }
  return node;
}

async function rejection(p: Promise<unknown>): Promise<FsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FsError);
    return err as FsError;
  }
  throw new Error('expected a rejection');
}

const transports: [string, () => string][] = [
  ['tcp', () => 'tcp!127.0.0.1!0'],
  ['unix', () => `unix!${join(dir, '9p.sock')}`],
];

describe.each(transports)('client over %s', (_name, address) => {
  it('reports the real address', async () => {
    const l = await serve(address());
    const a = parseAddress(l.address);
    if (a.kind === 'tcp') expect(a.port).toBeGreaterThan(0);
    else expect(a.path).toBe(join(dir, '9p.sock'));
  });

  it('walk, stat, list, open, read, write, remove', async () => {
    const l = await serve(address());
    const c = await dial(l.address);
    const root = c.root;

    const rs = await root.stat();
    expect(rs.name).toBe('/');
    expect(isDir(rs)).toBe(true);
    expect(rs.qid.path).toBe(1n);

    expect(await root.walk!('nope')).toBeUndefined();
    expect(await root.walk!('..')).toBeUndefined();
    const hello = await walkPath(root, 'hello');
    expect(await hello.stat()).toMatchObject({ name: 'hello', length: 13, mode: 0o444, uid: 'taskfs' });
    expect(await (await walkPath(root, 'hello')).walk!('x')).toBeUndefined();
    expect((await (await walkPath(root, 'sub', 'deep')).stat()).qid.path).toBe(6n);

    expect((await root.list!()).map((s) => s.name)).toEqual(['hello', 'sink', 'block', 'sub', 'many', 'slow']);
    expect(await root.list!()).toContainEqual(
      expect.objectContaining({ name: 'sub', mode: (0x80000000 | 0o555) >>> 0 }),
    );
    expect(await (await walkPath(root, 'many')).list!()).toHaveLength(40);

    const f = await hello.open!({ read: true, write: false });
    expect((await f.read(0, 100)).toString()).toBe('hello, world\n');
    expect((await f.read(7, 5)).toString()).toBe('world');
    expect((await f.read(13, 5)).length).toBe(0);
    await f.close();
    await f.close(); // idempotent
    await expect(f.read(0, 1)).rejects.toMatchObject({ code: 'EBADF' });

    const sink = await walkPath(root, 'sink');
    const w = await sink.open!({ read: false, write: true });
    expect(await w.write(Buffer.from('abc'), 0)).toBe(3);
    await w.close();
    expect(tree.log.writes).toEqual([{ file: 'sink', offset: 0, data: 'abc' }]);

    const denied = await rejection(sink.open!({ read: true, write: false }));
    expect(denied).toMatchObject({ code: 'EACCES', message: 'permission denied' });
    expect(await rejection(root.open!({ read: false, write: true }))).toMatchObject({ code: 'EISDIR' });

    await (await walkPath(root, 'sub', 'gone')).remove!();
    expect(await (await walkPath(root, 'sub')).walk!('gone')).toBeUndefined();
    expect(tree.log.removed).toEqual(['gone']);
    (tree.root.children.get('sub') as MemDir).removable('gone2', new TextFile('gone2', 11n, '', tree.log));
    expect(await rejection(hello.remove!())).toMatchObject({ code: 'EACCES' });
    // A reason from the tree arrives with its code intact.
    expect(await rejection((await walkPath(root, 'sub', 'busy')).remove!())).toMatchObject({
      code: 'EBUSY',
      message: 'session 3 is still running: device or resource busy',
    });
    // A node whose file went away reports ENOENT.
    const doomed = await walkPath(root, 'sub', 'gone2');
    await (await walkPath(root, 'sub', 'gone2')).remove!();
    expect(await rejection(doomed.stat())).toMatchObject({ code: 'ENOENT', message: 'file does not exist' });
    expect(await rejection(doomed.open!({ read: true, write: false }))).toMatchObject({ code: 'ENOENT' });

    // Nothing is pinned: only the root fid is left on the server.
    expect(tree.log.opens).toBe(tree.log.closes);
    expect(l.connections()[0]!.stats()).toMatchObject({ fids: 1, openFiles: 0, pending: 0 });
  });

  it('splits writes larger than the iounit into several Twrites', async () => {
    const l = await serve(address());
    const c = await dial(l.address, { msize: 1024 });
    expect(c.msize).toBe(1024);
    const w = await (await walkPath(c.root, 'sink')).open!({ read: false, write: true });
    const data = Buffer.from('x'.repeat(2500));
    expect(await w.write(data, 10)).toBe(2500);
    expect(tree.log.writes.map((x) => [x.offset, x.data.length])).toEqual([
      [10, 1000],
      [1010, 1000],
      [2010, 500],
    ]);
    // Listings span several reads at this msize.
    expect((await (await walkPath(c.root, 'many')).list!()).map((s) => s.name)).toHaveLength(40);
    await w.close();
  });

  it('aborting a blocked read sends Tflush and rejects EINTR promptly', async () => {
    const l = await serve(address());
    const c = await dial(l.address);
    const f = await (await walkPath(c.root, 'block')).open!({ read: true, write: true });
    const ac = new AbortController();
    const read = f.read(0, 100, ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    expect(tree.block.waiting).toBe(1);
    const t0 = Date.now();
    ac.abort();
    expect(await rejection(read)).toMatchObject({ code: 'EINTR' });
    expect(Date.now() - t0).toBeLessThan(200);
    expect(tree.block.waiting).toBe(0);
    // The connection and the file are still good; nothing was consumed.
    expect(await f.write(Buffer.from('data'), 0)).toBe(4);
    expect((await f.read(0, 100)).toString()).toBe('data');
    // An already aborted signal sends nothing at all.
    await expect(f.read(0, 1, AbortSignal.abort())).rejects.toMatchObject({ code: 'EINTR' });
    await f.close();
    expect(l.connections()[0]!.stats().pending).toBe(0);
  });

  it('many requests in flight on one connection', async () => {
    const l = await serve(address());
    const c = await dial(l.address);
    const f = await (await walkPath(c.root, 'block')).open!({ read: true, write: true });
    const blocked = f.read(0, 100);
    const stats = await Promise.all(Array.from({ length: 30 }, () => c.root.stat()));
    expect(stats.every((s) => s.name === '/')).toBe(true);
    const reads = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const h = await (await walkPath(c.root, 'hello')).open!({ read: true, write: false });
        try {
          return (await h.read(0, 5)).toString();
        } finally {
          await h.close();
        }
      }),
    );
    expect(reads).toEqual(Array(10).fill('hello'));
    await f.write(Buffer.from('done'), 0);
    expect((await blocked).toString()).toBe('done');
    await f.close();
  });

  it('server socket destroyed: pending requests reject ECONNRESET and closed fires', async () => {
    const sockets: Socket[] = [];
    const l = await serve(address(), sockets);
    const c = await dial(l.address);
    const f = await (await walkPath(c.root, 'block')).open!({ read: true, write: false });
    const read = f.read(0, 10);
    await new Promise((r) => setTimeout(r, 20));
    sockets[0]!.destroy();
    const err = await rejection(read);
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toMatch(/^connection lost: /);
    expect(await c.closed).toBeInstanceOf(Error);
    expect(await rejection(c.root.stat())).toMatchObject({ code: 'ECONNRESET' });
    // The server side cleaned up too.
    await expect.poll(() => tree.log.closes).toBe(tree.log.opens);
  });

  it('client.close(): closed resolves without an error, pending requests reject', async () => {
    const l = await serve(address());
    const c = await dial(l.address);
    const f = await (await walkPath(c.root, 'block')).open!({ read: true, write: false });
    const read = f.read(0, 10);
    await c.close();
    expect(await c.closed).toBeUndefined();
    expect(await rejection(read)).toMatchObject({ code: 'ECONNRESET' });
    await expect.poll(() => l.connections().length).toBe(0);
    expect(tree.log.closes).toBe(tree.log.opens);
  });

  it('listener.close() drops every connection', async () => {
    const l = await serve(address());
    const c1 = await dial(l.address);
    const c2 = await dial(l.address);
    expect(l.connections()).toHaveLength(2);
    await l.close();
    expect(await c1.closed).toBeInstanceOf(Error);
    expect(await c2.closed).toBeInstanceOf(Error);
  });
});

describe('listen', () => {
  it('takes over a stale unix socket but not a live one', async () => {
    const path = join(dir, 'stale.sock');
    const first = await listen(`unix!${path}`, () => tree.root);
    await expect(listen(`unix!${path}`, () => tree.root)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await first.close();
    // Simulate a crash: a process that listens and is killed leaves the file behind.
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
    spawnSync(process.execPath, ['-e', script]);
    expect(existsSync(path)).toBe(true);
    const second = await serve(`unix!${path}`);
    const c = await dial(second.address);
    expect((await c.root.stat()).name).toBe('/');
  });

  it('refuses a bad address', async () => {
    await expect(listen('nonsense', () => tree.root)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe('keepalive (timeoutMs)', () => {
  it('detects a server that stops answering mid-connection', { timeout: 5000 }, async () => {
    const l = await serve('tcp!127.0.0.1!0');
    const proxy = await freezableProxy((parseAddress(l.address) as { port: number }).port);
    cleanups.push(() => proxy.close());
    const c = await dial(proxy.address, { timeoutMs: 200 });
    expect((await c.root.stat()).name).toBe('/');
    proxy.freeze();
    const t0 = Date.now();
    const err = await rejection(c.root.stat());
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toMatch(/no answer from the server/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await c.closed)?.message).toMatch(/no answer/);
  });

  it('detects a frozen server even when the client is idle', { timeout: 5000 }, async () => {
    const l = await serve('tcp!127.0.0.1!0');
    const proxy = await freezableProxy((parseAddress(l.address) as { port: number }).port);
    cleanups.push(() => proxy.close());
    const c = await dial(proxy.address, { timeoutMs: 150 });
    proxy.freeze();
    expect((await c.closed)?.message).toMatch(/no answer/);
  });

  it('does not take its own stall for a silent server', { timeout: 5000 }, async () => {
    const l = await serve('tcp!127.0.0.1!0');
    const c = await dial(l.address, { timeoutMs: 200 });
    const stat = c.root.stat();
    // This event loop is stuck for longer than the timeout with a request in
    // flight (a loaded machine): when it runs again, the keepalive timer
    // comes before the answer is read, and must not call the server silent.
    const until = Date.now() + 500;
    while (Date.now() < until);
    expect((await stat).name).toBe('/');
    expect((await c.root.stat()).name).toBe('/');
  });

  it('fails connect when the server never answers Tversion', { timeout: 5000 }, async () => {
    const s = await silentServer();
    cleanups.push(() => s.close());
    const t0 = Date.now();
    const err = await rejection(connect(s.address, { timeoutMs: 150 }));
    expect(err.code).toBe('ECONNRESET');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('keeps a healthy connection with a long blocked read alive (pings are answered)', {
    timeout: 10_000,
  }, async () => {
    const l = await serve('tcp!127.0.0.1!0');
    // Several timeouts long; client and server share this event loop, so the timeout leaves room for its stalls.
    const c = await dial(l.address, { timeoutMs: 400 });
    const f = await (await walkPath(c.root, 'block')).open!({ read: true, write: true });
    const read = f.read(0, 10);
    await new Promise((r) => setTimeout(r, 2000));
    await f.write(Buffer.from('still here'), 0);
    expect((await read).toString()).toBe('still here');
    await f.close();
  });

  it('a refused connection is an FsError', async () => {
    const s = await silentServer();
    const addr = s.address;
    await s.close();
    expect(await rejection(connect(addr))).toMatchObject({ message: expect.stringContaining('cannot connect to') });
  });
});
