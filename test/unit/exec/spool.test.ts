import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import { Spool, type SpoolOptions } from '../../../src/exec/spool.js';

let dir: string;
const spools: Spool[] = [];

function mk(opts: Partial<SpoolOptions> = {}): Spool {
  const s = new Spool({ dir, name: 'out', ...opts });
  spools.push(s);
  return s;
}

/** Read everything from `offset` to EOF, in `count` steps. */
async function readAll(s: Spool, count = 65536, offset = 0): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const b = await s.read(offset, count);
    if (b.length === 0) return Buffer.concat(parts);
    parts.push(b);
    offset += b.length;
  }
}

const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves to 'pending' if `p` has not settled after a short while. */
async function state<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, tick(30).then(() => 'pending' as const)]);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskfs-spool-'));
});

afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

describe('Spool', () => {
  it('returns appended bytes in order', async () => {
    const s = mk();
    s.append(Buffer.from('hello '));
    s.append(Buffer.from('world'));
    s.end();
    expect(s.length).toBe(11);
    expect(s.ended).toBe(true);
    expect((await s.read(0, 100)).toString()).toBe('hello world');
    expect((await s.read(6, 3)).toString()).toBe('wor');
    expect((await s.read(11, 10)).length).toBe(0);
    expect((await s.read(1000, 10)).length).toBe(0);
  });

  it('copies appended data: a reused chunk does not change what was stored', async () => {
    const s = mk();
    const chunk = Buffer.from('abc');
    s.append(chunk);
    const got = await s.read(0, 3);
    chunk.write('xyz');
    s.append(chunk);
    expect(got.toString()).toBe('abc');
    expect((await s.read(0, 6)).toString()).toBe('abcxyz');
  });

  it('rejects bad offsets and counts, and append after end', async () => {
    const s = mk();
    await expect(s.read(-1, 1)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(s.read(0, -1)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(s.read(0.5, 1)).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await s.read(0, 0)).length).toBe(0);
    s.end();
    s.end(); // idempotent
    expect(() => s.append(Buffer.from('x'))).toThrow(FsError);
  });

  it('serves two independent readers', async () => {
    const s = mk();
    const a = readAll(s, 3);
    const b = readAll(s, 5);
    for (let i = 0; i < 20; i++) {
      s.append(Buffer.from(`line ${i}\n`));
      await tick(1);
    }
    s.end();
    const expected = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join('');
    expect((await a).toString()).toBe(expected);
    expect((await b).toString()).toBe(expected);
  });

  it('gives a late reader everything after end', async () => {
    const s = mk();
    s.append(Buffer.from('one\n'));
    s.append(Buffer.from('two\n'));
    s.end();
    await tick();
    expect((await readAll(s)).toString()).toBe('one\ntwo\n');
    expect((await readAll(s)).toString()).toBe('one\ntwo\n');
  });

  it('wakes a waiting reader on append', async () => {
    const s = mk();
    const p = s.read(0, 10);
    expect(await state(p)).toBe('pending');
    s.append(Buffer.from('hi'));
    expect((await p).toString()).toBe('hi');
    // A reader past the end waits too.
    const q = s.read(5, 10);
    s.append(Buffer.from('abc'));
    expect(await state(q)).toBe('pending');
    s.append(Buffer.from('defg'));
    expect((await q).toString()).toBe('defg');
  });

  it('wakes a waiting reader on end with EOF', async () => {
    const s = mk();
    s.append(Buffer.from('x'));
    const p = s.read(1, 10);
    const w = s.waitFor(1);
    expect(await state(p)).toBe('pending');
    s.end();
    expect((await p).length).toBe(0);
    await w;
  });

  it('waitFor resolves at once when data is there, waits otherwise', async () => {
    const s = mk();
    s.append(Buffer.from('ab'));
    await s.waitFor(0);
    await s.waitFor(1);
    const w = s.waitFor(2);
    expect(await state(w)).toBe('pending');
    s.append(Buffer.from('c'));
    await w;
  });

  it('abort rejects EINTR, consumes nothing, and a later read gets the data', async () => {
    const s = mk();
    const ac = new AbortController();
    const p = s.read(0, 10, ac.signal);
    const w = s.waitFor(0, ac.signal);
    expect(await state(p)).toBe('pending');
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'FsError', code: 'EINTR' });
    await expect(w).rejects.toMatchObject({ code: 'EINTR' });
    s.append(Buffer.from('data'));
    expect((await s.read(0, 10)).toString()).toBe('data');
    // Already aborted: rejects only if it would have to wait.
    expect((await s.read(0, 10, ac.signal)).toString()).toBe('data');
    await expect(s.read(4, 10, ac.signal)).rejects.toMatchObject({ code: 'EINTR' });
  });

  it('does not leak abort listeners', async () => {
    const s = mk();
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const rem = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => { added++; add(...a); }) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof rem>) => { removed++; rem(...a); }) as typeof rem;
    for (let i = 0; i < 10; i++) {
      const p = s.read(i, 1, ac.signal);
      s.append(Buffer.from('x'));
      await p;
    }
    expect(added).toBe(10);
    expect(removed).toBe(10);
  });

  it('keeps small output in memory without creating a file', async () => {
    const s = mk({ memoryBytes: 1024 });
    s.append(Buffer.alloc(1024, 1));
    s.end();
    await tick();
    expect(readdirSync(dir)).toEqual([]);
    expect((await s.read(0, 2048)).length).toBe(1024);
  });

  it('crosses the memory window into the disk file', async () => {
    const s = mk({ memoryBytes: 100 });
    const data = randomBytes(10_000);
    for (let i = 0; i < data.length; i += 37) s.append(data.subarray(i, i + 37));
    s.end();
    // Reads straight away mix head, pending and (once written) disk.
    expect(Buffer.compare(await readAll(s, 333), data)).toBe(0);
    await tick(50);
    expect(existsSync(join(dir, 'out'))).toBe(true);
    expect(statSync(join(dir, 'out')).size).toBe(10_000 - 100);
    expect(Buffer.compare(await readAll(s, 333), data)).toBe(0);
    // A read spanning the window boundary.
    expect(Buffer.compare(await s.read(90, 20), data.subarray(90, 110))).toBe(0);
    // Random reads.
    for (let i = 0; i < 50; i++) {
      const off = Math.floor(Math.random() * data.length);
      const n = 1 + Math.floor(Math.random() * 2000);
      expect(Buffer.compare(await s.read(off, n), data.subarray(off, off + n))).toBe(0);
    }
  });

  it('works with memoryBytes 0 (everything on disk)', async () => {
    const s = mk({ memoryBytes: 0 });
    const data = randomBytes(5000);
    s.append(data);
    s.end();
    expect(Buffer.compare(await readAll(s), data)).toBe(0);
    await tick(50);
    expect(statSync(join(dir, 'out')).size).toBe(5000);
  });

  it('applies back-pressure and drains', async () => {
    const s = mk({ memoryBytes: 0, highWaterBytes: 64 * 1024 });
    let ok = true;
    let n = 0;
    while (ok) {
      ok = s.append(Buffer.alloc(16 * 1024, n & 0xff));
      n++;
    }
    expect(n).toBe(5); // 80 KiB > 64 KiB
    await s.drained();
    // After draining, appends are welcome again and nothing was lost.
    expect(s.append(Buffer.alloc(1, 0xee))).toBe(true);
    s.end();
    const all = await readAll(s);
    expect(all.length).toBe(5 * 16 * 1024 + 1);
    expect(all[4 * 16 * 1024]).toBe(4);
    expect(all[all.length - 1]).toBe(0xee);
  });

  it('drained resolves at once when not over the mark', async () => {
    const s = mk();
    expect(s.append(Buffer.from('x'))).toBe(true);
    await s.drained();
  });

  it('spools 64 MiB with a small window, bounded pending, content intact', async () => {
    const s = mk({ memoryBytes: 64 * 1024, highWaterBytes: 1 << 20 });
    const total = 64 << 20;
    const chunk = 64 * 1024;
    const wHash = createHash('sha256');
    // A reader following along concurrently.
    const follower = (async () => {
      const h = createHash('sha256');
      let off = 0;
      for (;;) {
        const b = await s.read(off, 256 * 1024);
        if (b.length === 0) break;
        h.update(b);
        off += b.length;
      }
      return { hash: h.digest('hex'), off };
    })();
    let seed = 1;
    let pauses = 0;
    for (let written = 0; written < total; written += chunk) {
      const b = Buffer.allocUnsafe(chunk);
      for (let i = 0; i < chunk; i += 4) { seed = (seed * 1103515245 + 12345) >>> 0; b.writeUInt32LE(seed, i); }
      wHash.update(b);
      if (!s.append(b)) { pauses++; await s.drained(); }
    }
    s.end();
    const want = wHash.digest('hex');
    expect(pauses).toBeGreaterThan(0);
    expect(s.length).toBe(total);
    const f = await follower;
    expect(f.off).toBe(total);
    expect(f.hash).toBe(want);
    // A late reader, after everything reached disk.
    await s.drained();
    const h = createHash('sha256');
    let off = 0;
    for (;;) {
      const b = await s.read(off, 1 << 20);
      if (b.length === 0) break;
      h.update(b);
      off += b.length;
    }
    expect(h.digest('hex')).toBe(want);
    expect(statSync(join(dir, 'out')).size).toBe(total - 64 * 1024);
  }, 60_000);

  it('returned data is never mutated by later appends', async () => {
    const s = mk({ memoryBytes: 10 });
    s.append(Buffer.from('abcdefghij'));   // head
    s.append(Buffer.from('k'));            // pending block with spare room
    const r1 = await s.read(0, 11);
    const r2 = await s.read(10, 1);
    s.append(Buffer.from('lmnop'));        // fills the same block
    await tick(20);
    expect(r1.toString()).toBe('abcdefghijk');
    expect(r2.toString()).toBe('k');
    expect((await s.read(10, 6)).toString()).toBe('klmnop');
  });

  it('dispose wakes readers with EOF and deletes the file', async () => {
    const s = mk({ memoryBytes: 10 });
    s.append(Buffer.alloc(100, 7));
    await tick(30);
    expect(existsSync(join(dir, 'out'))).toBe(true);
    const p = s.read(100, 10);
    const w = s.waitFor(100);
    expect(await state(p)).toBe('pending');
    await s.dispose();
    expect((await p).length).toBe(0);
    await w;
    expect(s.ended).toBe(true);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect((await s.read(0, 10)).length).toBe(0);
    expect(s.append(Buffer.from('ignored'))).toBe(true);
    await s.dispose(); // idempotent
  });

  it('dispose releases a paused writer', async () => {
    const s = mk({ memoryBytes: 0, highWaterBytes: 10 });
    s.append(Buffer.alloc(1000));
    const d = s.drained();
    await s.dispose();
    await d;
  });

  it('dispose during heavy writing leaves no file behind', async () => {
    const s = mk({ memoryBytes: 0 });
    for (let i = 0; i < 50; i++) s.append(Buffer.alloc(64 * 1024, i));
    await tick(1);
    await s.dispose();
    await tick(20);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('creates the spool directory if missing', async () => {
    const s = mk({ dir: join(dir, 'a', 'b'), memoryBytes: 1 });
    s.append(Buffer.from('xyz'));
    s.end();
    expect((await readAll(s)).toString()).toBe('xyz');
    await tick(30);
    expect(existsSync(join(dir, 'a', 'b', 'out'))).toBe(true);
  });
});
