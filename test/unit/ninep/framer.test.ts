/** The framer fed the way a socket with `onread` feeds it (src/ninep/framer.ts): reads into its own buffers. */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { pack } from '../../../src/ninep/codec.js';
import { Framer, socketOnread } from '../../../src/ninep/framer.js';
import { NinepFormatError } from '../../../src/ninep/wire.js';

/** An Rread of `n` bytes whose data says where it is (byte i is (seed + i) % 251). */
function rread(tag: number, n: number, seed = tag): Buffer {
  return pack({ type: 'Rread', tag, data: Buffer.from(Array.from({ length: n }, (_, i) => (seed + i) % 251)) });
}

/** Feeds `stream` as reads of the given sizes (cycled) into buffer()/filled(), collecting frames. */
function feed(f: Framer, stream: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, k = 0; off < stream.length; k++) {
    const into = f.buffer();
    if (into.length === 0) throw new Error('buffer() gave no room');
    const n = stream.copy(into, 0, off, off + Math.min(sizes[k % sizes.length]!, into.length));
    f.filled(n);
    off += n;
    for (let fr = f.next(); fr !== undefined; fr = f.next()) out.push(Buffer.from(fr));
  }
  return out;
}

const mixed = [rread(1, 0), rread(2, 5), rread(3, 300_000), rread(4, 17), rread(5, 40_000), rread(6, 1 << 20)];
for (let t = 7; t < 200; t++) mixed.push(rread(t, (t * 7919) % 3000));
const stream = Buffer.concat(mixed);

describe('Framer, read into its own buffers', () => {
  it('frames split across reads, many frames in one read, any read size', () => {
    const small = mixed.filter((b) => b.length < 20_000).slice(0, 60);
    const cases: Array<[Buffer[], number[]]> = [
      [small, [1]],
      [small, [3, 7]],
      [mixed, [333, 4096]],
      [mixed, [65536]],
      [mixed, [100_000, 13]],
      [mixed, [1 << 22]],
    ];
    for (const [frames, sizes] of cases) {
      const f = new Framer(2 << 20);
      const out = feed(f, Buffer.concat(frames), sizes);
      expect(out.length).toBe(frames.length);
      expect(out.every((b, i) => b.equals(frames[i]!))).toBe(true);
      expect(f.pending).toBe(0);
    }
  });

  it('a frame larger than the slab gets a buffer of its own, read into directly', () => {
    const made: Buffer[] = [];
    const f = new Framer(2 << 20, (size) => {
      const b = Buffer.alloc(size);
      made.push(b);
      return b;
    });
    const big = rread(9, 1 << 20);
    f.filled(big.copy(f.buffer(), 0, 0, 1000)); // the head arrives with a read into the slab
    expect(made).toHaveLength(1);
    expect(made[0]!.length).toBe(big.length);
    const rest = f.buffer();
    expect(rest.buffer).toBe(made[0]!.buffer); // the next read goes straight into that frame
    expect(rest.length).toBe(big.length - 1000);
    expect(f.next()).toBeUndefined();
    f.filled(big.copy(rest, 0, 1000));
    const frame = f.next()!;
    expect(frame).toBe(made[0]);
    expect(frame.equals(big)).toBe(true);
  });

  it('frames handed out stay valid while later reads arrive', () => {
    const f = new Framer(2 << 20);
    const held: Buffer[] = [];
    for (let off = 0; off < stream.length; ) {
      const into = f.buffer();
      const n = stream.copy(into, 0, off, off + Math.min(777, into.length));
      f.filled(n);
      off += n;
      for (let fr = f.next(); fr !== undefined; fr = f.next()) held.push(fr); // not copied
    }
    expect(held.every((b, i) => b.equals(mixed[i]!))).toBe(true);
  });

  it('keeps whole frames queued for a reader that stops taking them', () => {
    const f = new Framer(2 << 20);
    f.append(stream);
    expect(f.pending).toBe(stream.length);
    const out: Buffer[] = [];
    for (let fr = f.next(); fr !== undefined; fr = f.next()) out.push(fr);
    expect(out.every((b, i) => b.equals(mixed[i]!))).toBe(true);
    expect(f.pending).toBe(0);
  });

  it('bad sizes: refused when the size arrives, after the frames before it', () => {
    const f = new Framer(1 << 16);
    const good = rread(1, 10);
    const bad = Buffer.from([0xff, 0xff, 0x01, 0x00]); // 0x1ffff > msize
    const into = f.buffer();
    f.filled(Buffer.concat([good, bad]).copy(into));
    expect(f.next()!.equals(good)).toBe(true);
    expect(() => f.next()).toThrow(/exceeds msize/);
    expect(() => f.next()).toThrow(NinepFormatError); // and stays broken
    const small = new Framer(1 << 16);
    small.filled(Buffer.from([6, 0, 0, 0]).copy(small.buffer()));
    expect(() => small.next()).toThrow(/smaller than the 7-byte header/);
    // A size split across reads is checked once whole.
    const split = new Framer(1 << 16);
    split.filled(Buffer.from([0xff, 0xff]).copy(split.buffer()));
    expect(split.next()).toBeUndefined();
    split.filled(Buffer.from([0xff, 0x7f]).copy(split.buffer()));
    expect(() => split.next()).toThrow(NinepFormatError);
  });

  it('a lowered msize applies to frames whose size has not arrived yet', () => {
    const f = new Framer(2 << 20);
    f.maxSize = 1000;
    f.append(rread(1, 2000));
    expect(() => f.next()).toThrow(/exceeds msize 1000/);
  });

  it('reads a TCP socket straight into its buffers (socketOnread)', async () => {
    const server = createServer((s) => {
      // Odd write sizes, so reads split frames anywhere.
      for (let off = 0; off < stream.length; off += 12_345) s.write(stream.subarray(off, off + 12_345));
      s.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const f = new Framer(2 << 20);
    const out: Buffer[] = [];
    f.arrived = () => {
      for (let fr = f.next(); fr !== undefined; fr = f.next()) out.push(fr);
    };
    const sock = connect({
      port: (server.address() as AddressInfo).port,
      host: '127.0.0.1',
      onread: socketOnread(f),
    });
    await once(sock, 'end');
    server.close();
    expect(out.length).toBe(mixed.length);
    expect(out.every((b, i) => b.equals(mixed[i]!))).toBe(true);
  });
});
