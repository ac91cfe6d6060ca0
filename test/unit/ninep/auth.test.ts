/**
 * taskfs-auth-1 (src/ninep/auth.ts): the server as transcripts over an
 * in-memory socket pair, with proofs computed here from the written
 * protocol; then the client against real listeners, honest and not.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import { pack, unpack } from '../../../src/ninep/codec.js';
import { connect } from '../../../src/ninep/client.js';
import { NOFID, NOTAG, OREAD, QTAUTH } from '../../../src/ninep/constants.js';
import { Framer } from '../../../src/ninep/framer.js';
import type { Message } from '../../../src/ninep/messages.js';
import type { Connection } from '../../../src/ninep/server.js';
import { listen, serveConnection } from '../../../src/ninep/server.js';
import { duplexPair } from '../../helpers/duplex.js';
import { Peer } from '../../helpers/raw-peer.js';
import type { TestTree } from '../../helpers/test-tree.js';
import { makeTree } from '../../helpers/test-tree.js';

const KEY = Buffer.from('correct horse battery staple');
const MSIZE = 8192 + 24;
const dirQid = (path: bigint) => ({ type: 0x80, version: 0, path });

const hmac = (key: Buffer, ...parts: string[]) => createHmac('sha256', key).update(parts.join('\0')).digest('hex');
const nonce = () => randomBytes(32).toString('hex');

let tree: TestTree;
let peer: Peer;
let conn: Connection;
let warnings: string[];
let logged: string[];
let tag: number;

function start(opts: { key?: Buffer } = { key: KEY }): void {
  const [client, server] = duplexPair();
  const log = Object.assign((fmt: string, ...args: unknown[]) => logged.push([fmt, ...args].join(' ')), {
    enabled: true,
  });
  conn = serveConnection(server, () => tree.root, {
    msize: MSIZE,
    peer: '192.0.2.7:5555',
    warn: (l) => warnings.push(l),
    log,
    ...opts,
  });
  peer = new Peer(client);
}

/** Sends a T-message and returns its reply. */
async function rpc(msg: Record<string, unknown> & { type: string }): Promise<Message> {
  const t = msg.type === 'Tversion' ? NOTAG : tag++;
  peer.send({ ...msg, tag: t } as Message);
  const r = await peer.next();
  expect(r.tag).toBe(t);
  return r;
}

async function ok<T extends Message['type']>(
  msg: Record<string, unknown> & { type: string },
  want: T,
): Promise<Extract<Message, { type: T }>> {
  const r = await rpc(msg);
  expect(r).toMatchObject({ type: want });
  return r as Extract<Message, { type: T }>;
}

async function refused(msg: Record<string, unknown> & { type: string }, ename: string | RegExp): Promise<void> {
  const r = await rpc(msg);
  expect(r.type).toBe('Rerror');
  expect((r as Extract<Message, { type: 'Rerror' }>).ename).toMatch(ename);
}

const version = () => ok({ type: 'Tversion', msize: MSIZE, version: '9P2000' }, 'Rversion');
const challenge = async (afid: number) => {
  const r = await ok({ type: 'Tread', fid: afid, offset: 0n, count: 256 }, 'Rread');
  const m = /^taskfs-auth-1 ([0-9a-f]{64})$/.exec(r.data.toString());
  expect(m).not.toBeNull();
  return m![1]!;
};
const respond = (afid: number, text: string) => ({ type: 'Twrite', fid: afid, offset: 0n, data: Buffer.from(text) });

/** Tauth + the whole exchange on afid with `key`; returns what the client wrote. */
async function authenticate(afid: number, key = KEY, uname = 'glenda', aname = ''): Promise<string> {
  const r = await ok({ type: 'Tauth', afid, uname, aname }, 'Rauth');
  expect(r.aqid.type).toBe(QTAUTH);
  expect(r.aqid.path).not.toBe(0n);
  const sn = await challenge(afid);
  const cn = nonce();
  const response = `${cn} ${hmac(key, 'client', sn, cn, uname, aname)}`;
  expect(await ok(respond(afid, response), 'Rwrite')).toMatchObject({ count: response.length });
  const proof = await ok({ type: 'Tread', fid: afid, offset: 0n, count: 256 }, 'Rread');
  expect(proof.data.toString()).toBe(hmac(key, 'server', cn, sn));
  return response;
}

beforeEach(() => {
  tree = makeTree();
  warnings = [];
  logged = [];
  tag = 1;
});

afterEach(async () => {
  conn?.close();
  await conn?.closed;
});

describe('the server with a key', () => {
  it('the right key attaches, and the tree is served', async () => {
    start();
    await version();
    await authenticate(1);
    expect(await ok({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, 'Rattach')).toMatchObject({
      qid: dirQid(1n),
    });
    await ok({ type: 'Tclunk', fid: 1 }, 'Rclunk');
    await ok({ type: 'Twalk', fid: 0, newfid: 2, wnames: ['hello'] }, 'Rwalk');
    await ok({ type: 'Topen', fid: 2, mode: OREAD }, 'Ropen');
    expect((await ok({ type: 'Tread', fid: 2, offset: 0n, count: 100 }, 'Rread')).data.toString()).toBe(
      'hello, world\n',
    );
    expect(warnings).toEqual([]);
  });

  it('a wrong key fails the write with "authentication failed" and poisons the afid', async () => {
    start();
    await version();
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    const sn = await challenge(1);
    const cn = nonce();
    const wrong = Buffer.from('correct horse battery stapler');
    await refused(respond(1, `${cn} ${hmac(wrong, 'client', sn, cn, 'glenda', '')}`), /^authentication failed$/);
    // Poisoned: the right answer now is no better, nor is reading, nor attaching.
    await refused(respond(1, `${cn} ${hmac(KEY, 'client', sn, cn, 'glenda', '')}`), /^authentication failed$/);
    await refused({ type: 'Tread', fid: 1, offset: 0n, count: 256 }, /^authentication failed$/);
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, /^authentication failed$/);
    expect(warnings).toEqual(['taskfs: refused 9P client 192.0.2.7:5555: authentication failed for user "glenda"']);
  });

  it.each([
    ['garbage', 'hello'],
    ['a short proof', `${'a'.repeat(64)} ${'b'.repeat(63)}`],
    ['upper-case hex', `${'A'.repeat(64)} ${'B'.repeat(64)}`],
    ['nothing', ''],
  ])('a malformed response (%s) is "authentication failed"', async (_name, text) => {
    start();
    await version();
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    await refused(respond(1, text), /^authentication failed$/);
  });

  it('no auth: Tattach with NOFID is "authentication required", logged and warned with the peer address', async () => {
    start();
    await version();
    await refused({ type: 'Tattach', fid: 0, afid: NOFID, uname: 'glenda', aname: '' }, /^authentication required$/);
    expect(conn.stats().fids).toBe(0);
    expect(warnings).toEqual([
      'taskfs: refused 9P client 192.0.2.7:5555: attach as user "glenda" without authentication',
    ]);
    expect(logged.some((l) => l.includes('192.0.2.7:5555') && l.includes('without authentication'))).toBe(true);
  });

  it('a response recorded from an earlier exchange fails on a new auth fid', async () => {
    start();
    await version();
    const recorded = await authenticate(1);
    await ok({ type: 'Tauth', afid: 2, uname: 'glenda', aname: '' }, 'Rauth');
    await challenge(2);
    await refused(respond(2, recorded), /^authentication failed$/);
    await refused({ type: 'Tattach', fid: 0, afid: 2, uname: 'glenda', aname: '' }, /^authentication failed$/);
    // ... and on a new connection too.
    conn.close();
    await conn.closed;
    start();
    tag = 1;
    await version();
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    await refused(respond(1, recorded), /^authentication failed$/);
  });

  it('an afid that has not finished does not attach', async () => {
    start();
    await version();
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, /^authentication not finished$/);
    await challenge(1);
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, /^authentication not finished$/);
    // Not an auth fid at all.
    await refused({ type: 'Tattach', fid: 0, afid: 77, uname: 'glenda', aname: '' }, /not an authentication fid/);
  });

  it('an afid is used once, and only for its own uname and aname', async () => {
    start();
    await version();
    await authenticate(1);
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'root', aname: '' }, /another user or tree/);
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: 'other' }, /another user or tree/);
    await ok({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, 'Rattach');
    await refused(
      { type: 'Tattach', fid: 2, afid: 1, uname: 'glenda', aname: '' },
      /^authentication fid already used$/,
    );
    // Its uname/aname are bound into the proof: a response for another uname fails.
    await ok({ type: 'Tauth', afid: 3, uname: 'glenda', aname: '' }, 'Rauth');
    const sn = await challenge(3);
    const cn = nonce();
    await refused(respond(3, `${cn} ${hmac(KEY, 'client', sn, cn, 'root', '')}`), /^authentication failed$/);
  });

  it('a new Tversion forgets every auth fid', async () => {
    start();
    await version();
    await authenticate(1);
    await version();
    await refused({ type: 'Tattach', fid: 0, afid: 1, uname: 'glenda', aname: '' }, /not an authentication fid/);
  });

  it('an auth fid is no file: no walk, open, stat or wstat; clunk and remove drop it', async () => {
    start();
    await version();
    await authenticate(1);
    await refused({ type: 'Twalk', fid: 1, newfid: 2, wnames: [] }, /authentication fid/);
    await refused({ type: 'Topen', fid: 1, mode: OREAD }, /authentication fid/);
    await refused({ type: 'Tstat', fid: 1 }, /authentication fid/);
    await refused({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, /fid already in use/);
    await refused({ type: 'Tremove', fid: 1 }, /permission denied/);
    await refused({ type: 'Tclunk', fid: 1 }, /unknown fid/);
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    await ok({ type: 'Tclunk', fid: 1 }, 'Rclunk');
    expect(conn.stats().fids).toBe(0);
  });

  it('a read too small for the challenge fails rather than cutting it', async () => {
    start();
    await version();
    await ok({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, 'Rauth');
    await refused({ type: 'Tread', fid: 1, offset: 0n, count: 10 }, /too small/);
    await challenge(1);
  });
});

describe('the server without a key', () => {
  it('answers Tauth "authentication not required" and attaches with NOFID', async () => {
    start({});
    await version();
    await refused({ type: 'Tauth', afid: 1, uname: 'glenda', aname: '' }, /^authentication not required$/);
    await ok({ type: 'Tattach', fid: 0, afid: NOFID, uname: 'glenda', aname: '' }, 'Rattach');
  });
});

describe('the client', () => {
  let cleanups: (() => Promise<unknown>)[];
  beforeEach(() => {
    cleanups = [];
  });
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function serve(key?: Buffer, warn?: (l: string) => void) {
    const l = await listen('tcp!127.0.0.1!0', () => tree.root, { key, warn: warn ?? (() => undefined) });
    cleanups.push(() => l.close());
    return l;
  }

  async function failure(p: Promise<unknown>): Promise<FsError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FsError);
    return err as FsError;
  }

  it('with the right key attaches, and clunks its auth fid', async () => {
    const l = await serve(KEY);
    const c = await connect(l.address, { key: KEY });
    cleanups.push(() => c.close());
    const hello = await c.root.walk!('hello');
    const f = await hello!.open!({ read: true, write: false });
    expect((await f.read(0, 100)).toString()).toBe('hello, world\n');
    await f.close();
    expect(l.connections()[0]!.stats().fids).toBe(1);
  });

  it('with a wrong key is refused: "authentication failed"', async () => {
    const l = await serve(KEY);
    const e = await failure(connect(l.address, { key: Buffer.from('nope') }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(new RegExp(`^${l.address}: authentication failed`));
  });

  it('without a key against a server with one: "ADDR: authentication required (give --key)"', async () => {
    const lines: string[] = [];
    const l = await serve(KEY, (line) => lines.push(line));
    const e = await failure(connect(l.address, { uname: 'someone' }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toBe(`${l.address}: authentication required (give --key)`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^taskfs: refused 9P client 127\.0\.0\.1:\d+: attach as user "someone" without authentication$/,
    );
  });

  it('with a key refuses a server that does not require one', async () => {
    const l = await serve(undefined);
    const e = await failure(connect(l.address, { key: KEY }));
    expect(e.code).toBe('EACCES');
    expect(e.message).toMatch(/server failed to authenticate.*authentication not required/);
  });

  it('refuses a server whose proof is wrong, and never attaches', async () => {
    const fake = await fakeServer((msg, key) => {
      if (msg.type === 'Tread' && key.read++ === 0)
        return { type: 'Rread', data: Buffer.from(`taskfs-auth-1 ${nonce()}`) };
      if (msg.type === 'Tread') return { type: 'Rread', data: Buffer.from(nonce()) }; // a proof it cannot make
      return undefined;
    });
    cleanups.push(fake.close);
    const e = await failure(connect(fake.address, { key: KEY }));
    expect(e.message).toBe(`${fake.address}: server failed to authenticate (wrong server proof)`);
    expect(fake.seen).toEqual(['Tversion', 'Tauth', 'Tread', 'Twrite', 'Tread']);
  });

  it('refuses a server that speaks another auth protocol', async () => {
    const fake = await fakeServer((msg) =>
      msg.type === 'Tread' ? { type: 'Rread', data: Buffer.from('p9sk1 hello') } : undefined,
    );
    cleanups.push(fake.close);
    const e = await failure(connect(fake.address, { key: KEY }));
    expect(e.message).toMatch(/server failed to authenticate \(it does not speak taskfs-auth-1\)/);
    expect(fake.seen).not.toContain('Tattach');
  });
});

type Untagged = { type: string } & Record<string, unknown>;

/**
 * A 9P server that answers the handshake like taskfs but lets `answer`
 * script the auth fid; it records the T-message types it saw.
 */
async function fakeServer(answer: (msg: Message, state: { read: number }) => Untagged | undefined) {
  const seen: string[] = [];
  const state = { read: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    const framer = new Framer(1 << 20);
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      for (const f of framer.push(chunk)) {
        const msg = unpack(f);
        seen.push(msg.type);
        const r = answer(msg, state) ?? defaultAnswer(msg);
        sock.write(pack({ ...r, tag: msg.tag } as Message));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `tcp!127.0.0.1!${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function defaultAnswer(msg: Message): Untagged {
  switch (msg.type) {
    case 'Tversion':
      return { type: 'Rversion', msize: msg.msize, version: '9P2000' };
    case 'Tauth':
      return { type: 'Rauth', aqid: { type: QTAUTH, version: 0, path: 1n } };
    case 'Twrite':
      return { type: 'Rwrite', count: msg.data.length };
    case 'Tattach':
      return { type: 'Rattach', qid: dirQid(1n) };
    default:
      return { type: 'Rerror', ename: 'not in this script' };
  }
}
