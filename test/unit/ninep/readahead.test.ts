/** The read-ahead chain of a remote file (src/ninep/readahead.ts): what the server sees, and what the reader gets. */
import { describe, expect, it } from 'vitest';
import { AheadBudget, ReadAhead } from '../../../src/ninep/readahead.js';
import { RREAD_HEADER, isPooled, takeFrame } from '../../../src/ninep/rread-frame.js';

/** A file of `size` bytes (byte i is i % 251) that logs every request it gets. */
function file(size: number) {
  const reqs: Array<[number, number]> = [];
  const fetch = async (offset: number, count: number) => {
    reqs.push([offset, count]);
    await new Promise((r) => setImmediate(r));
    const n = Math.max(0, Math.min(count, size - offset));
    return { data: Buffer.from(Array.from({ length: n }, (_, i) => (offset + i) % 251)) };
  };
  return { reqs, fetch };
}

/**
 * The same file, each answer in a pooled frame as a client reads it
 * (data after the Rread header); `frames` are the memory handed out.
 */
function framedFile(size: number, capacity: number) {
  const frames: ArrayBufferLike[] = [];
  const fetch = async (offset: number, count: number) => {
    await new Promise((r) => setImmediate(r));
    const n = Math.max(0, Math.min(count, size - offset));
    const frame = takeFrame(RREAD_HEADER + n, capacity);
    frames.push(frame.buffer);
    for (let i = 0; i < n; i++) frame[RREAD_HEADER + i] = (offset + i) % 251;
    return { data: frame.subarray(RREAD_HEADER, RREAD_HEADER + n), frame };
  };
  return { frames, fetch };
}

async function readAll(ra: ReadAhead, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; ; ) {
    const b = await ra.read(off, chunk);
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(b);
    off += b.length;
  }
}

describe('ReadAhead', () => {
  it('reads a long file whole, asking in order with no gap and nothing twice', async () => {
    const f = file(10 * 1000 + 7);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    const got = await readAll(ra, 100);
    expect(got.length).toBe(10 * 1000 + 7);
    expect(got.every((v, i) => v === i % 251)).toBe(true);
    let next = 0;
    for (const [offset, count] of f.reqs) {
      expect(offset).toBe(next); // the server sees a plain sequential reader
      next = offset + Math.max(0, Math.min(count, 10 * 1000 + 7 - offset));
    }
    expect(f.reqs.some(([, c]) => c === 1000)).toBe(true); // it did read ahead, a whole unit at a time
  });

  it('does not read ahead of a reader that seeks, and serves it right', async () => {
    const f = file(5000);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    for (const off of [3000, 100, 4000, 0]) {
      const b = await ra.read(off, 50);
      expect([...b]).toEqual(Array.from({ length: 50 }, (_, i) => (off + i) % 251));
    }
    expect(f.reqs.every(([, c]) => c === 50)).toBe(true);
  });

  it('goes back to one request at a time when an answer comes back short', async () => {
    let available = 250; // a writer that is slower than the reader
    const reqs: Array<[number, number]> = [];
    const ra = new ReadAhead(
      async (offset, count) => {
        reqs.push([offset, count]);
        return { data: Buffer.alloc(Math.max(0, Math.min(count, available - offset))) };
      },
      1000,
      new AheadBudget(4),
    );
    expect((await ra.read(0, 100)).length).toBe(100);
    expect((await ra.read(100, 100)).length).toBe(100);
    expect((await ra.read(200, 100)).length).toBe(50); // from the request ahead, short
    available = 400;
    expect((await ra.read(250, 100)).length).toBe(100);
    expect(reqs.filter(([, c]) => c === 1000)).toHaveLength(1); // the short answer ended the chain
  });

  it('keeps within the budget shared by a connection', async () => {
    const budget = new AheadBudget(1);
    const a = file(100_000);
    const b = file(100_000);
    const ra = new ReadAhead(a.fetch, 1000, budget);
    const rb = new ReadAhead(b.fetch, 1000, budget);
    await Promise.all([readAll(ra, 100), readAll(rb, 100)]);
    expect(budget.take()).toBe(true); // every request ahead gave its place back
  });

  it('an interrupted read consumes nothing', async () => {
    const f = file(10_000);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    await ra.read(0, 100);
    await ra.read(100, 100);
    const ctl = new AbortController();
    ctl.abort();
    await expect(ra.read(200, 100, ctl.signal)).rejects.toMatchObject({ code: 'EINTR' });
    const b = await ra.read(200, 100);
    expect(b[0]).toBe(200 % 251);
  });

  it('readInto copies, and gives each frame back once it is used up', async () => {
    const size = 20_000;
    const f = framedFile(size, RREAD_HEADER + 1000 + 1);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    const got = Buffer.alloc(size);
    for (let off = 0; ; ) {
      const n = await ra.readInto(got.subarray(off, off + 300), off);
      if (n === 0) break;
      off += n;
    }
    expect(got.every((v, i) => v === i % 251)).toBe(true);
    // Recycled: far fewer allocations than answers.
    expect(new Set(f.frames).size).toBeLessThan(f.frames.length / 3);
  });

  it('never recycles a frame a slice handed out by read() still points into', async () => {
    const f = framedFile(20_000, RREAD_HEADER + 1000 + 2);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    const slices: Buffer[] = [];
    for (let off = 0; ; ) {
      const b = await ra.read(off, 300);
      if (b.length === 0) break;
      slices.push(b);
      off += b.length;
    }
    expect(new Set(f.frames).size).toBe(f.frames.length);
    expect(Buffer.concat(slices).every((v, i) => v === i % 251)).toBe(true);
  });

  it('readFrame hands over whole answers with their frames, and slices without', async () => {
    const f = framedFile(5_500, RREAD_HEADER + 1000 + 3);
    const ra = new ReadAhead(f.fetch, 1000, new AheadBudget(4));
    let off = 0;
    for (;;) {
      const a = await ra.readFrame(off, 1000);
      if (a.data.length === 0) break;
      if (a.frame !== undefined) {
        expect(isPooled(a.frame)).toBe(true);
        expect(a.data.byteOffset).toBe(a.frame.byteOffset + RREAD_HEADER);
      }
      expect(a.data[0]).toBe(off % 251);
      off += a.data.length;
    }
    expect(off).toBe(5_500);
    // Asked for less than an answer holds: a slice, and that frame is no longer anyone's to recycle.
    const g = framedFile(5_000, RREAD_HEADER + 1000 + 4);
    const rb = new ReadAhead(g.fetch, 1000, new AheadBudget(4));
    await rb.read(0, 1000);
    await rb.read(1000, 1000);
    const part = await rb.readFrame(2000, 10);
    expect(part.frame).toBeUndefined();
    expect(part.data[0]).toBe(2000 % 251);
    const rest = await rb.readFrame(2010, 1000);
    expect(rest.frame).toBeUndefined();
    expect(rest.data.length).toBe(990);
  });
});
