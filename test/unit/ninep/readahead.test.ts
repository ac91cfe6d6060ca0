/** The read-ahead chain of a remote file (src/ninep/readahead.ts): what the server sees, and what the reader gets. */
import { describe, expect, it } from 'vitest';
import { AheadBudget, ReadAhead } from '../../../src/ninep/readahead.js';

/** A file of `size` bytes (byte i is i % 251) that logs every request it gets. */
function file(size: number) {
  const reqs: Array<[number, number]> = [];
  const fetch = async (offset: number, count: number) => {
    reqs.push([offset, count]);
    await new Promise((r) => setImmediate(r));
    const n = Math.max(0, Math.min(count, size - offset));
    return Buffer.from(Array.from({ length: n }, (_, i) => (offset + i) % 251));
  };
  return { reqs, fetch };
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
        return Buffer.alloc(Math.max(0, Math.min(count, available - offset)));
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
});
