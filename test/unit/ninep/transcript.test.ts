/**
 * Golden transcripts: whole 9P conversations replayed against
 * serveConnection over an in-memory socket pair. 'T' lines are sent,
 * 'R' lines are the replies expected next, in order.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pack, unpackStats } from '../../../src/ninep/codec.js';
import { NOFID, NOTAG, OEXEC, OREAD, ORDWR, OTRUNC, OWRITE } from '../../../src/ninep/constants.js';
import type { Message, Stat } from '../../../src/ninep/messages.js';
import type { Connection } from '../../../src/ninep/server.js';
import { serveConnection } from '../../../src/ninep/server.js';
import { dontTouchStat } from '../../../src/ninep/stat.js';
import type { Node } from '../../../src/ns/types.js';
import { QTDIR } from '../../../src/ns/types.js';
import { duplexPair } from '../../helpers/duplex.js';
import { Peer } from '../../helpers/raw-peer.js';
import type { TestTree } from '../../helpers/test-tree.js';
import { MTIME, MemDir, TextFile, makeTree } from '../../helpers/test-tree.js';

type Step = ['T' | 'R', Message];

const MSIZE = 8192 + 24;
const dirQid = (path: bigint) => ({ type: QTDIR, version: 0, path });
const fileQid = (path: bigint) => ({ type: 0, version: 0, path });

let tree: TestTree;
let peer: Peer;
let conn: Connection;

function start(root: () => Node = () => tree.root, opts = {}): void {
  const [client, server] = duplexPair();
  conn = serveConnection(server, root, { msize: MSIZE, ...opts });
  peer = new Peer(client);
}

async function replay(steps: Step[]): Promise<void> {
  for (const [i, [dir, msg]] of steps.entries()) {
    if (dir === 'T') peer.send(msg);
    else expect({ step: i, msg: await peer.next() }).toEqual({ step: i, msg });
  }
}

/** Tversion + Tattach of fid 0, used by most scripts. */
const hello: Step[] = [
  ['T', { type: 'Tversion', tag: NOTAG, msize: MSIZE, version: '9P2000' }],
  ['R', { type: 'Rversion', tag: NOTAG, msize: MSIZE, version: '9P2000' }],
  ['T', { type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '' }],
  ['R', { type: 'Rattach', tag: 1, qid: dirQid(1n) }],
];

const err = (tag: number, ename: string): Step => ['R', { type: 'Rerror', tag, ename }];

beforeEach(() => {
  tree = makeTree();
});

afterEach(async () => {
  conn?.close();
  await conn?.closed;
});

describe('golden transcripts', () => {
  it('version, attach, walk, open, read, clunk, stat', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: fileQid(2n), iounit: 8192 }],
      ['T', { type: 'Tread', tag: 4, fid: 1, offset: 0n, count: 5 }],
      ['R', { type: 'Rread', tag: 4, data: Buffer.from('hello') }],
      ['T', { type: 'Tread', tag: 4, fid: 1, offset: 5n, count: 100 }],
      ['R', { type: 'Rread', tag: 4, data: Buffer.from(', world\n') }],
      ['T', { type: 'Tread', tag: 5, fid: 1, offset: 13n, count: 100 }],
      ['R', { type: 'Rread', tag: 5, data: Buffer.alloc(0) }],
      ['T', { type: 'Tstat', tag: 6, fid: 1 }],
      [
        'R',
        {
          type: 'Rstat',
          tag: 6,
          stat: {
            type: 0,
            dev: 0,
            qid: fileQid(2n),
            mode: 0o444,
            atime: MTIME,
            mtime: MTIME,
            length: 13n,
            name: 'hello',
            uid: 'taskfs',
            gid: 'taskfs',
            muid: 'taskfs',
          },
        },
      ],
      ['T', { type: 'Tclunk', tag: 7, fid: 1 }],
      ['R', { type: 'Rclunk', tag: 7 }],
      ['T', { type: 'Tstat', tag: 8, fid: 0 }],
      [
        'R',
        {
          type: 'Rstat',
          tag: 8,
          stat: {
            type: 0,
            dev: 0,
            qid: dirQid(1n),
            mode: (0x80000000 | 0o555) >>> 0,
            atime: MTIME,
            mtime: MTIME,
            length: 0n,
            name: '/',
            uid: 'taskfs',
            gid: 'taskfs',
            muid: 'taskfs',
          },
        },
      ],
    ]);
    expect(tree.log).toMatchObject({ opens: 1, closes: 1 });
    expect(conn.stats()).toMatchObject({ fids: 1, openFiles: 0, pending: 0 });
  });

  it('the same conversation as raw bytes', async () => {
    start();
    // Hex of the first exchange, to pin the wire format end to end.
    peer.sendRaw(Buffer.from('13000000' + '64' + 'ffff' + '18200000' + '0600' + '395032303030', 'hex'));
    expect(pack(await peer.next()).toString('hex')).toBe(
      '13000000' + '65' + 'ffff' + '18200000' + '0600' + '395032303030',
    );
  });

  it('negotiates msize down and answers odd versions', async () => {
    start();
    await replay([
      ['T', { type: 'Tversion', tag: NOTAG, msize: 1 << 20, version: '9P2000.L' }],
      ['R', { type: 'Rversion', tag: NOTAG, msize: MSIZE, version: '9P2000' }],
      ['T', { type: 'Tversion', tag: NOTAG, msize: 4096, version: '9P2000' }],
      ['R', { type: 'Rversion', tag: NOTAG, msize: 4096, version: '9P2000' }],
      ['T', { type: 'Tversion', tag: NOTAG, msize: 4096, version: 'styx' }],
      ['R', { type: 'Rversion', tag: NOTAG, msize: 4096, version: 'unknown' }],
      ['T', { type: 'Tattach', tag: 1, fid: 0, afid: NOFID, uname: 'glenda', aname: '' }],
      err(1, 'Tversion must come first: invalid argument'),
      ['T', { type: 'Tversion', tag: NOTAG, msize: 100, version: '9P2000' }],
      err(NOTAG, 'msize 100 is too small: invalid argument'),
    ]);
  });

  it('Tauth is refused: authentication is off', async () => {
    start();
    await replay([
      ...hello.slice(0, 2),
      ['T', { type: 'Tauth', tag: 1, afid: 5, uname: 'glenda', aname: '' }],
      err(1, 'authentication not required'),
      ['T', { type: 'Tattach', tag: 2, fid: 0, afid: 5, uname: 'glenda', aname: '' }],
      err(2, 'authentication not required'),
      ['T', { type: 'Tattach', tag: 3, fid: 0, afid: NOFID, uname: 'glenda', aname: '' }],
      ['R', { type: 'Rattach', tag: 3, qid: dirQid(1n) }],
    ]);
  });

  it('walk errors, partial walks and ..', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['nope'] }],
      err(2, 'file does not exist'),
      // A failure after the first element is a short Rwalk; newfid stays unbound.
      ['T', { type: 'Twalk', tag: 3, fid: 0, newfid: 1, wnames: ['sub', 'nope', 'x'] }],
      ['R', { type: 'Rwalk', tag: 3, wqids: [dirQid(5n)] }],
      ['T', { type: 'Tstat', tag: 4, fid: 1 }],
      err(4, 'unknown fid'),
      ['T', { type: 'Twalk', tag: 5, fid: 0, newfid: 1, wnames: ['hello', 'x'] }],
      ['R', { type: 'Rwalk', tag: 5, wqids: [fileQid(2n)] }],
      ['T', { type: 'Twalk', tag: 6, fid: 0, newfid: 1, wnames: ['sub', '..', '..', 'sub', 'deep'] }],
      ['R', { type: 'Rwalk', tag: 6, wqids: [dirQid(5n), dirQid(1n), dirQid(1n), dirQid(5n), fileQid(6n)] }],
      ['T', { type: 'Twalk', tag: 7, fid: 1, newfid: 2, wnames: ['x'] }],
      err(7, 'not a directory'),
      ['T', { type: 'Twalk', tag: 8, fid: 0, newfid: 1, wnames: [] }],
      err(8, 'fid already in use'),
      ['T', { type: 'Twalk', tag: 9, fid: 42, newfid: 43, wnames: [] }],
      err(9, 'unknown fid'),
      // newfid == fid walks in place.
      ['T', { type: 'Twalk', tag: 10, fid: 1, newfid: 1, wnames: [] }],
      ['R', { type: 'Rwalk', tag: 10, wqids: [] }],
      ['T', { type: 'Twalk', tag: 11, fid: 0, newfid: 0, wnames: ['sub'] }],
      ['R', { type: 'Rwalk', tag: 11, wqids: [dirQid(5n)] }],
      ['T', { type: 'Tattach', tag: 12, fid: 1, afid: NOFID, uname: 'glenda', aname: '' }],
      err(12, 'fid already in use'),
    ]);
  });

  it('open, read and write errors', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: [] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OWRITE }],
      err(3, 'is a directory'),
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD | OTRUNC }],
      err(3, 'is a directory'),
      ['T', { type: 'Tread', tag: 4, fid: 1, offset: 0n, count: 10 }],
      err(4, 'fid not open for reading'),
      ['T', { type: 'Tread', tag: 4, fid: 99, offset: 0n, count: 10 }],
      err(4, 'unknown fid'),
      ['T', { type: 'Twalk', tag: 5, fid: 0, newfid: 2, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 5, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 6, fid: 2, mode: ORDWR }],
      err(6, 'permission denied'),
      ['T', { type: 'Topen', tag: 6, fid: 2, mode: 0x80 }],
      err(6, 'illegal mode'),
      // OEXEC is a read.
      ['T', { type: 'Twalk', tag: 7, fid: 0, newfid: 4, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 7, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 7, fid: 4, mode: OEXEC }],
      ['R', { type: 'Ropen', tag: 7, qid: fileQid(2n), iounit: 8192 }],
      ['T', { type: 'Tread', tag: 7, fid: 4, offset: 0n, count: 5 }],
      ['R', { type: 'Rread', tag: 7, data: Buffer.from('hello') }],
      ['T', { type: 'Topen', tag: 7, fid: 2, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 7, qid: fileQid(2n), iounit: 8192 }],
      ['T', { type: 'Topen', tag: 8, fid: 2, mode: OREAD }],
      err(8, 'fid already open'),
      ['T', { type: 'Twalk', tag: 9, fid: 2, newfid: 3, wnames: [] }],
      err(9, 'cannot walk from an open fid'),
      ['T', { type: 'Twrite', tag: 10, fid: 2, offset: 0n, data: Buffer.from('x') }],
      err(10, 'fid not open for writing'),
      ['T', { type: 'Twalk', tag: 11, fid: 0, newfid: 3, wnames: ['sink'] }],
      ['R', { type: 'Rwalk', tag: 11, wqids: [fileQid(3n)] }],
      ['T', { type: 'Topen', tag: 12, fid: 3, mode: OREAD }],
      err(12, 'permission denied'),
      ['T', { type: 'Topen', tag: 13, fid: 3, mode: OWRITE | OTRUNC }],
      ['R', { type: 'Ropen', tag: 13, qid: fileQid(3n), iounit: 8192 }],
      ['T', { type: 'Twrite', tag: 14, fid: 3, offset: 0n, data: Buffer.from('one') }],
      ['R', { type: 'Rwrite', tag: 14, count: 3 }],
      ['T', { type: 'Twrite', tag: 15, fid: 3, offset: 3n, data: Buffer.from('two') }],
      ['R', { type: 'Rwrite', tag: 15, count: 3 }],
      ['T', { type: 'Tread', tag: 16, fid: 3, offset: 0n, count: 10 }],
      err(16, 'fid not open for reading'),
      ['T', { type: 'Tcreate', tag: 17, fid: 0, name: 'new', perm: 0o644, mode: OWRITE }],
      err(17, 'permission denied'),
    ]);
    expect(tree.log.writes).toEqual([
      { file: 'sink', offset: 0, data: 'one' },
      { file: 'sink', offset: 3, data: 'two' },
    ]);
  });

  it('wstat: only "no change" and truncation are accepted here (no rename in this tree)', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twstat', tag: 2, fid: 0, stat: dontTouchStat() }],
      ['R', { type: 'Rwstat', tag: 2 }],
      ['T', { type: 'Twstat', tag: 3, fid: 0, stat: { ...dontTouchStat(), length: 0n } }],
      ['R', { type: 'Rwstat', tag: 3 }],
      ['T', { type: 'Twstat', tag: 4, fid: 0, stat: { ...dontTouchStat(), name: 'renamed' } }],
      err(4, 'permission denied'),
      ['T', { type: 'Twstat', tag: 5, fid: 0, stat: { ...dontTouchStat(), mode: 0o777 } }],
      err(5, 'permission denied'),
      ['T', { type: 'Twstat', tag: 6, fid: 0, stat: { ...dontTouchStat(), length: 10n } }],
      err(6, 'permission denied'),
      ['T', { type: 'Twstat', tag: 7, fid: 9, stat: dontTouchStat() }],
      err(7, 'unknown fid'),
    ]);
  });

  it('remove: refused where the tree has no remove, and the fid is clunked either way', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(2n)] }],
      ['T', { type: 'Tremove', tag: 3, fid: 1 }],
      err(3, 'permission denied'),
      ['T', { type: 'Tstat', tag: 4, fid: 1 }],
      err(4, 'unknown fid'),
      ['T', { type: 'Twalk', tag: 5, fid: 0, newfid: 1, wnames: ['sub', 'gone'] }],
      ['R', { type: 'Rwalk', tag: 5, wqids: [dirQid(5n), fileQid(7n)] }],
      ['T', { type: 'Tremove', tag: 6, fid: 1 }],
      ['R', { type: 'Rremove', tag: 6 }],
      ['T', { type: 'Twalk', tag: 7, fid: 0, newfid: 1, wnames: ['sub', 'gone'] }],
      ['R', { type: 'Rwalk', tag: 7, wqids: [dirQid(5n)] }],
    ]);
    expect(tree.log.removed).toEqual(['gone']);
  });

  it('directory reads: whole entries, offsets as read(9P) requires', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['many'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [dirQid(8n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: dirQid(8n), iounit: 8192 }],
    ]);
    const names: string[] = [];
    let offset = 0n;
    let reads = 0;
    for (;;) {
      peer.send({ type: 'Tread', tag: 4, fid: 1, offset, count: 700 });
      const r = await peer.next();
      if (r.type !== 'Rread') throw new Error(`unexpected ${r.type}`);
      if (r.data.length === 0) break;
      expect(r.data.length).toBeLessThanOrEqual(700);
      const entries: Stat[] = unpackStats(r.data);
      expect(entries.length).toBeGreaterThan(0);
      names.push(...entries.map((e) => e.name));
      offset += BigInt(r.data.length);
      reads++;
    }
    expect(reads).toBeGreaterThan(5);
    expect(names).toHaveLength(40);
    expect(names[0]).toMatch(/^entry-00-x+$/);
    await replay([
      ['T', { type: 'Tread', tag: 5, fid: 1, offset: 3n, count: 700 }],
      err(5, 'bad offset in directory read'),
      ['T', { type: 'Tread', tag: 6, fid: 1, offset: 0n, count: 10 }],
      err(6, 'read count 10 is smaller than the next directory entry: invalid argument'),
    ]);
    // Offset 0 starts over.
    peer.send({ type: 'Tread', tag: 7, fid: 1, offset: 0n, count: 8192 });
    const again = await peer.next();
    expect(again.type === 'Rread' && unpackStats(again.data).length).toBe(40);
  });

  it('never sends qid.path 0', async () => {
    const log = makeTree().log;
    const root = new MemDir('', 1n, log).add('zero', new TextFile('zero', 0n, 'z', log));
    start(() => root);
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['zero'] }],
      err(2, 'walk zero: qid.path is 0'),
      ['T', { type: 'Twalk', tag: 3, fid: 0, newfid: 1, wnames: [] }],
      ['R', { type: 'Rwalk', tag: 3, wqids: [] }],
      ['T', { type: 'Topen', tag: 4, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 4, qid: dirQid(1n), iounit: 8192 }],
      ['T', { type: 'Tread', tag: 5, fid: 1, offset: 0n, count: 8192 }],
      err(5, "stat of 'zero': qid.path is 0"),
    ]);
  });
});

describe('flush and concurrency', () => {
  /** Opens /block as fid 1 (read/write) after version and attach. */
  const openBlock: Step[] = [
    ...hello,
    ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['block'] }],
    ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(4n)] }],
    ['T', { type: 'Topen', tag: 3, fid: 1, mode: ORDWR }],
    ['R', { type: 'Ropen', tag: 3, qid: fileQid(4n), iounit: 8192 }],
  ];

  it('Tflush of a blocked read answers Rflush at once, and the flushed tag is never answered', async () => {
    start();
    await replay(openBlock);
    peer.send({ type: 'Tread', tag: 10, fid: 1, offset: 0n, count: 100 });
    expect(await peer.drain(50)).toEqual([]);
    expect(tree.block.waiting).toBe(1);
    expect(conn.stats().pending).toBe(1);
    const t0 = Date.now();
    await replay([
      ['T', { type: 'Tflush', tag: 11, oldtag: 10 }],
      ['R', { type: 'Rflush', tag: 11 }],
    ]);
    expect(Date.now() - t0).toBeLessThan(200);
    expect(tree.block.waiting).toBe(0);
    // Data arriving later must not produce an Rread for tag 10.
    await replay([
      ['T', { type: 'Twrite', tag: 12, fid: 1, offset: 0n, data: Buffer.from('later') }],
      ['R', { type: 'Rwrite', tag: 12, count: 5 }],
    ]);
    expect(await peer.drain(100)).toEqual([]);
    expect(conn.stats().pending).toBe(0);
    // The tag is free again.
    await replay([
      ['T', { type: 'Tread', tag: 10, fid: 1, offset: 0n, count: 100 }],
      ['R', { type: 'Rread', tag: 10, data: Buffer.from('later') }],
    ]);
  });

  it('Tflush of an unknown tag is answered at once', async () => {
    start();
    await replay([...hello, ['T', { type: 'Tflush', tag: 2, oldtag: 77 }], ['R', { type: 'Rflush', tag: 2 }]]);
  });

  it('a reply that completes before the flush is sent first, then Rflush', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: fileQid(2n), iounit: 8192 }],
    ]);
    // Both in one chunk: the read is in flight when the flush arrives, but
    // the text file ignores the signal and answers.
    peer.sendRaw(
      Buffer.concat([
        pack({ type: 'Tread', tag: 4, fid: 1, offset: 0n, count: 5 }),
        pack({ type: 'Tflush', tag: 5, oldtag: 4 }),
      ]),
    );
    await replay([
      ['R', { type: 'Rread', tag: 4, data: Buffer.from('hello') }],
      ['R', { type: 'Rflush', tag: 5 }],
    ]);
  });

  it('several flushes of one request are answered in order', async () => {
    start();
    await replay(openBlock);
    peer.sendRaw(
      Buffer.concat([
        pack({ type: 'Tread', tag: 10, fid: 1, offset: 0n, count: 100 }),
        pack({ type: 'Tflush', tag: 11, oldtag: 10 }),
        pack({ type: 'Tflush', tag: 12, oldtag: 10 }),
      ]),
    );
    await replay([
      ['R', { type: 'Rflush', tag: 11 }],
      ['R', { type: 'Rflush', tag: 12 }],
    ]);
    expect(await peer.drain(50)).toEqual([]);
  });

  it('a request that ignores its signal is dropped after the grace period; its late answer is discarded', async () => {
    start(() => tree.root, { flushGraceMs: 50 });
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['slow'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(9n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: fileQid(9n), iounit: 8192 }],
      ['T', { type: 'Tread', tag: 4, fid: 1, offset: 0n, count: 10 }],
      ['T', { type: 'Tflush', tag: 5, oldtag: 4 }],
      ['R', { type: 'Rflush', tag: 5 }],
    ]);
    expect(await peer.drain(400)).toEqual([]);
  });

  it('many tags in flight: a blocked read does not hold up other requests', async () => {
    start();
    await replay(openBlock);
    peer.send({ type: 'Tread', tag: 20, fid: 1, offset: 0n, count: 100 });
    await replay([
      ['T', { type: 'Tstat', tag: 21, fid: 0 }],
      ['R', expect.objectContaining({ type: 'Rstat', tag: 21 }) as unknown as Message],
    ]);
    // Fifty more at once, all answered while tag 20 still waits.
    for (let t = 100; t < 150; t++) peer.send({ type: 'Tstat', tag: t, fid: 0 });
    const replies: Message[] = [];
    while (replies.length < 50) replies.push(await peer.next());
    expect(replies.map((r) => r.tag).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 100 + i));
    expect(replies.every((r) => r.type === 'Rstat')).toBe(true);
    // A duplicate of the pending tag is refused.
    await replay([['T', { type: 'Tstat', tag: 20, fid: 0 }], err(20, 'duplicate tag')]);
    // A second fid writes; the blocked read completes.
    await replay([
      ['T', { type: 'Twalk', tag: 22, fid: 0, newfid: 2, wnames: ['block'] }],
      ['R', { type: 'Rwalk', tag: 22, wqids: [fileQid(4n)] }],
      ['T', { type: 'Topen', tag: 23, fid: 2, mode: OWRITE }],
      ['R', { type: 'Ropen', tag: 23, qid: fileQid(4n), iounit: 8192 }],
      ['T', { type: 'Twrite', tag: 24, fid: 2, offset: 0n, data: Buffer.from('wake up') }],
    ]);
    const two = [await peer.next(), await peer.next()].sort((a, b) => a.tag - b.tag);
    expect(two).toEqual([
      { type: 'Rread', tag: 20, data: Buffer.from('wake up') },
      { type: 'Rwrite', tag: 24, count: 7 },
    ]);
  });
});

describe('connection lifetime', () => {
  it('closing the connection closes every open file and aborts pending requests', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['block'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(4n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: fileQid(4n), iounit: 8192 }],
      ['T', { type: 'Twalk', tag: 4, fid: 0, newfid: 2, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 4, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 5, fid: 2, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 5, qid: fileQid(2n), iounit: 8192 }],
      ['T', { type: 'Tread', tag: 6, fid: 1, offset: 0n, count: 10 }],
    ]);
    await peer.drain(20);
    expect(conn.stats()).toMatchObject({ fids: 3, openFiles: 2, pending: 1 });
    expect(tree.block.waiting).toBe(1);
    peer.socket.destroy();
    await conn.closed;
    expect(tree.log.opens).toBe(2);
    expect(tree.log.closes).toBe(2);
    expect(tree.block.waiting).toBe(0);
    expect(conn.stats()).toMatchObject({ fids: 0, openFiles: 0, pending: 0 });
  });

  it('a new Tversion ends the session: files closed, fids gone', async () => {
    start();
    await replay([
      ...hello,
      ['T', { type: 'Twalk', tag: 2, fid: 0, newfid: 1, wnames: ['hello'] }],
      ['R', { type: 'Rwalk', tag: 2, wqids: [fileQid(2n)] }],
      ['T', { type: 'Topen', tag: 3, fid: 1, mode: OREAD }],
      ['R', { type: 'Ropen', tag: 3, qid: fileQid(2n), iounit: 8192 }],
      ...hello.slice(0, 2),
      ['T', { type: 'Tstat', tag: 4, fid: 0 }],
      err(4, 'unknown fid'),
    ]);
    expect(tree.log.closes).toBe(1);
  });

  it.each([
    ['a size below 7', Buffer.from([3, 0, 0, 0, 0, 0, 0])],
    ['a size above msize', Buffer.from([0, 0, 1, 0, 116, 0, 0])],
    ['an unknown type', Buffer.from([7, 0, 0, 0, 250, 0, 0])],
    ['trailing garbage', Buffer.from([8, 0, 0, 0, 109, 0, 0, 0])],
  ])('a malformed frame (%s) closes the connection, nothing else', async (_name, bytes) => {
    start();
    await replay(hello);
    peer.sendRaw(bytes);
    await conn.closed;
    await peer.drain(10);
    expect(peer.closed).toBe(true);
  });

  it('an R-message from the client is refused, not fatal', async () => {
    start();
    await replay([...hello, ['T', { type: 'Rclunk', tag: 9 }], err(9, 'unexpected message Rclunk: invalid argument')]);
  });
});
