import { describe, expect, it } from 'vitest';
import { NinepFormatError, pack, packStat, unpack, unpackStats } from '../../../src/ninep/codec.js';
import { NOFID, NOTAG } from '../../../src/ninep/constants.js';
import { Framer } from '../../../src/ninep/framer.js';
import type { Message, Stat } from '../../../src/ninep/messages.js';
import { layouts } from '../../../src/ninep/messages.js';

const qid = (path: bigint, type = 0, version = 0) => ({ type, version, path });

const bigStat: Stat = {
  type: 0xffff,
  dev: 0xffffffff,
  qid: qid(0xfedcba9876543210n, 0x80, 0xffffffff),
  mode: 0x800001ed,
  atime: 0xffffffff,
  mtime: 1_700_000_000,
  length: (1n << 64n) - 1n,
  name: 'n'.repeat(20_000),
  uid: 'ü'.repeat(5000),
  gid: '日本',
  muid: '\u{1F600}\uFEFF',
};

/** One example of every message, chosen to hit edge values. */
const examples: Message[] = [
  { type: 'Tversion', tag: NOTAG, msize: 131096, version: '9P2000' },
  { type: 'Rversion', tag: NOTAG, msize: 8192, version: 'unknown' },
  { type: 'Tauth', tag: 1, afid: 7, uname: 'glenda', aname: '' },
  { type: 'Rauth', tag: 1, aqid: qid(1n, 0x08) },
  { type: 'Tattach', tag: 2, fid: 0, afid: NOFID, uname: 'glenda', aname: 'main' },
  { type: 'Rattach', tag: 2, qid: qid(1n, 0x80) },
  { type: 'Rerror', tag: 3, ename: 'file does not exist' },
  { type: 'Tflush', tag: 4, oldtag: 3 },
  { type: 'Rflush', tag: 4 },
  { type: 'Twalk', tag: 5, fid: 0, newfid: 1, wnames: Array.from({ length: 16 }, (_, i) => `e${i}`) },
  { type: 'Twalk', tag: 5, fid: 0, newfid: 0, wnames: [] },
  { type: 'Rwalk', tag: 5, wqids: Array.from({ length: 16 }, (_, i) => qid(BigInt(i + 1))) },
  { type: 'Rwalk', tag: 5, wqids: [] },
  { type: 'Topen', tag: 6, fid: 1, mode: 0x10 | 2 },
  { type: 'Ropen', tag: 6, qid: qid(9n), iounit: 131072 },
  { type: 'Tcreate', tag: 7, fid: 1, name: 'new', perm: 0x800001ff, mode: 0 },
  { type: 'Rcreate', tag: 7, qid: qid(10n), iounit: 0 },
  { type: 'Tread', tag: 8, fid: 1, offset: (1n << 64n) - 1n, count: 0xffffffff },
  { type: 'Rread', tag: 8, data: Buffer.from('some bytes\0\xff') },
  { type: 'Rread', tag: 8, data: Buffer.alloc(0) },
  { type: 'Twrite', tag: 9, fid: 1, offset: 1n << 40n, data: Buffer.alloc(70_000, 7) },
  { type: 'Rwrite', tag: 9, count: 70_000 },
  { type: 'Tclunk', tag: 10, fid: 1 },
  { type: 'Rclunk', tag: 10 },
  { type: 'Tremove', tag: 11, fid: 2 },
  { type: 'Rremove', tag: 11 },
  { type: 'Tstat', tag: 12, fid: 0 },
  { type: 'Rstat', tag: 12, stat: bigStat },
  { type: 'Twstat', tag: 13, fid: 0, stat: { ...bigStat, name: '', uid: '', gid: '', muid: '' } },
  { type: 'Rwstat', tag: 13 },
];

describe('codec round trip', () => {
  it('has an example of every message type', () => {
    expect(new Set(examples.map((m) => m.type))).toEqual(new Set(Object.keys(layouts)));
  });

  it.each(examples.map((m) => [`${m.type}${'wnames' in m ? `/${m.wnames.length}` : ''}`, m] as const))(
    '%s packs and unpacks to the same message',
    (_name, msg) => {
      const frame = pack(msg);
      expect(frame.readUInt32LE(0)).toBe(frame.length);
      expect(unpack(frame)).toEqual(msg);
    },
  );

  it('matches known bytes (Tversion, Twalk, Rerror)', () => {
    expect(pack({ type: 'Tversion', tag: NOTAG, msize: 8192, version: '9P2000' }).toString('hex')).toBe(
      '13000000' + '64' + 'ffff' + '00200000' + '0600' + Buffer.from('9P2000').toString('hex'),
    );
    expect(pack({ type: 'Twalk', tag: 1, fid: 2, newfid: 3, wnames: ['ab'] }).toString('hex')).toBe(
      '15000000' + '6e' + '0100' + '02000000' + '03000000' + '0100' + '0200' + '6162',
    );
    expect(pack({ type: 'Rerror', tag: 1, ename: 'no' }).toString('hex')).toBe(
      '0b000000' + '6b' + '0100' + '0200' + '6e6f',
    );
  });

  it('stat inside Rstat carries n[2] and then its own size[2]', () => {
    const st: Stat = { ...bigStat, name: 'a', uid: 'u', gid: 'g', muid: 'm' };
    const frame = pack({ type: 'Rstat', tag: 1, stat: st });
    const n = frame.readUInt16LE(7);
    expect(frame.readUInt16LE(9)).toBe(n - 2);
    expect(frame.length).toBe(9 + n);
    // 2+4+13+4+4+4+8 fixed bytes after size[2], plus four strings of 1 byte.
    expect(n - 2).toBe(39 + 4 * 3);
  });

  it('directory entries pack and unpack as a sequence', () => {
    const a: Stat = { ...bigStat, name: 'a' };
    const b: Stat = { ...bigStat, name: 'b', length: 0n };
    expect(unpackStats(Buffer.concat([packStat(a), packStat(b)]))).toEqual([a, b]);
    expect(() => unpackStats(packStat(a).subarray(0, 30))).toThrow(NinepFormatError);
  });

  it('refuses to pack values that do not fit', () => {
    expect(() => pack({ type: 'Tclunk', tag: 70_000, fid: 1 })).toThrow(NinepFormatError);
    expect(() => pack({ type: 'Topen', tag: 1, fid: -1, mode: 0 })).toThrow(NinepFormatError);
    expect(() => pack({ type: 'Topen', tag: 1, fid: 1.5, mode: 0 })).toThrow(NinepFormatError);
    expect(() => pack({ type: 'Rerror', tag: 1, ename: 'x'.repeat(70_000) })).toThrow(NinepFormatError);
    expect(() => pack({ type: 'Twalk', tag: 1, fid: 1, newfid: 2, wnames: Array(17).fill('a') })).toThrow(
      NinepFormatError,
    );
    expect(() => pack({ type: 'Tread', tag: 1, fid: 1, offset: 1n << 64n, count: 1 })).toThrow(NinepFormatError);
    expect(() => pack({ type: 'Rstat', tag: 1, stat: { ...bigStat, name: 'n'.repeat(65_000) } })).toThrow(
      NinepFormatError,
    );
  });
});

describe('codec rejects malformed frames', () => {
  const good = pack({ type: 'Twalk', tag: 5, fid: 1, newfid: 2, wnames: ['abc', 'de'] });
  const withSize = (b: Buffer) => {
    const c = Buffer.from(b);
    c.writeUInt32LE(c.length, 0);
    return c;
  };

  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['shorter than the header', Buffer.from([7, 0, 0, 0, 110, 1])],
    ['size field larger than the frame', Buffer.concat([Buffer.from([0xff, 0, 0, 0]), good.subarray(4)])],
    ['size field smaller than the frame', Buffer.concat([Buffer.from([10, 0, 0, 0]), good.subarray(4)])],
    ['size < 7', Buffer.from([3, 0, 0, 0, 110, 0, 0])],
    ['unknown type', withSize(Buffer.from([0, 0, 0, 0, 99, 0, 0]))],
    ['Terror (106) is not a message', withSize(Buffer.from([0, 0, 0, 0, 106, 0, 0, 0, 0]))],
    ['truncated field', withSize(good.subarray(0, good.length - 1))],
    ['trailing garbage', withSize(Buffer.concat([good, Buffer.from([0])]))],
    [
      'string length overrunning the frame',
      (() => {
        const b = Buffer.from(good);
        b.writeUInt16LE(0xffff, 17); // length of 'abc'
        return b;
      })(),
    ],
    [
      'more than 16 walk names',
      (() => {
        const b = Buffer.from(good);
        b.writeUInt16LE(17, 15);
        return b;
      })(),
    ],
    [
      'invalid UTF-8 in a string',
      withSize(Buffer.concat([Buffer.from([0, 0, 0, 0, 107, 1, 0, 2, 0]), Buffer.from([0xc3, 0x28])])),
    ],
    ['data count overrunning the frame', withSize(Buffer.from([0, 0, 0, 0, 117, 1, 0, 0xff, 0xff, 0xff, 0xff, 1]))],
  ];

  it.each(cases)('%s', (_name, frame) => {
    expect(() => unpack(frame)).toThrow(NinepFormatError);
  });

  it('size larger than msize', () => {
    const big = pack({ type: 'Rread', tag: 1, data: Buffer.alloc(9000) });
    expect(() => unpack(big, 8192)).toThrow(NinepFormatError);
    expect(unpack(big, 9011).type).toBe('Rread');
  });

  it('truncated and inconsistent stats', () => {
    const frame = pack({ type: 'Rstat', tag: 1, stat: { ...bigStat, name: 'x', uid: 'u' } });
    // Cut inside the stat, keep size consistent.
    expect(() => unpack(withSize(frame.subarray(0, frame.length - 3)))).toThrow(NinepFormatError);
    // n[2] one larger than the stat's size[2] + 2.
    const n = Buffer.from(frame);
    n.writeUInt16LE(n.readUInt16LE(7) + 1, 7);
    expect(() => unpack(withSize(Buffer.concat([n, Buffer.from([0])])))).toThrow(NinepFormatError);
    // Inner size[2] claiming less than the fields need.
    const s = Buffer.from(frame);
    s.writeUInt16LE(10, 9);
    expect(() => unpack(s)).toThrow(NinepFormatError);
  });
});

describe('framer', () => {
  const frames = examples.map(pack);
  const stream = Buffer.concat(frames);

  it('reassembles frames from any chunking', () => {
    for (const step of [1, 2, 3, 5, 7, 64, 1000, stream.length]) {
      const f = new Framer(1 << 20);
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) out.push(...f.push(stream.subarray(i, i + step)));
      expect(out.map((b) => b.toString('hex'))).toEqual(frames.map((b) => b.toString('hex')));
      expect(f.pending).toBe(0);
    }
  });

  it('refuses a size below 7 or above msize before buffering the body', () => {
    expect(() => new Framer(8192).push(Buffer.from([6, 0, 0, 0]))).toThrow(NinepFormatError);
    expect(() => new Framer(8192).push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(NinepFormatError);
    expect(() => new Framer(8192).push(Buffer.from([1, 0x20, 0, 0]))).toThrow(NinepFormatError);
    // A size split across chunks is checked too.
    const f = new Framer(8192);
    expect(f.push(Buffer.from([0xff, 0xff]))).toEqual([]);
    expect(() => f.push(Buffer.from([0xff, 0x7f]))).toThrow(NinepFormatError);
  });
});

describe('random mutations', () => {
  /** mulberry32: small, seeded, good enough to spread mutations. */
  function rng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('20,000 mutated frames throw nothing but NinepFormatError, and what parses re-packs identically', () => {
    const rand = rng(0x9f00d);
    const int = (n: number) => Math.floor(rand() * n);
    // Small messages only, so that random edits land in interesting places.
    const small: Message[] = examples.filter((m) => m.type !== 'Twrite' && m.type !== 'Rstat');
    small.push({ type: 'Rstat', tag: 1, stat: { ...bigStat, name: 'x', uid: 'glenda' } });
    const corpus = small.map(pack);
    let parsed = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      const src = corpus[int(corpus.length)]!;
      let b = Buffer.from(src);
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        switch (int(6)) {
          case 0:
            b[int(b.length)] = int(256);
            break;
          case 1:
            b[int(b.length)]! ^= 1 << int(8);
            break;
          case 2:
            b = b.subarray(0, int(b.length + 1));
            break;
          case 3:
            b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256)))]);
            break;
          case 4:
            if (b.length > 9) b.writeUInt16LE(int(0x10000), 7 + int(b.length - 8));
            break;
          case 5:
            if (b.length > 8) b.writeUInt8([0, 1, 0xff, 0x7f, 0x80][int(5)]!, 7 + int(b.length - 7));
            break;
        }
      }
      // Usually keep the size field honest so the mutation reaches the fields.
      if (b.length >= 4 && rand() < 0.8) b.writeUInt32LE(b.length, 0);
      try {
        const msg = unpack(b, 1 << 20);
        parsed++;
        expect(pack(msg).equals(b)).toBe(true);
      } catch (err) {
        if (!(err instanceof NinepFormatError)) throw err;
        rejected++;
      }
      try {
        new Framer(1 << 16).push(b);
      } catch (err) {
        if (!(err instanceof NinepFormatError)) throw err;
      }
    }
    // Both outcomes must actually occur, or the loop tests little.
    expect(parsed).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(1000);
  });
});
