import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import { FileSpool, MemorySpool, type Spool } from '../../../src/exec/spool.js';

let dir: string;
const spools: Spool[] = [];

/** The reading side is the same for every spool: exercised through the one we can append to. */
function mk(): MemorySpool {
  const s = new MemorySpool();
  spools.push(s);
  return s;
}

/** A file spool over a file this test writes, as the process server would. */
function fileSpool(name = 'out'): { s: FileSpool; write(data: string | Buffer): void } {
  const path = join(dir, name);
  writeFileSync(path, '');
  const s = new FileSpool(path);
  spools.push(s);
  return {
    s,
    write(data) {
      appendFileSync(path, data);
      s.advance(s.length + Buffer.byteLength(data));
    },
  };
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

describe('Spool (reading, waiting, ending), through MemorySpool', () => {
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
    ac.signal.addEventListener = ((...a: Parameters<typeof add>) => {
      added++;
      add(...a);
    }) as typeof add;
    ac.signal.removeEventListener = ((...a: Parameters<typeof rem>) => {
      removed++;
      rem(...a);
    }) as typeof rem;
    for (let i = 0; i < 10; i++) {
      const p = s.read(i, 1, ac.signal);
      s.append(Buffer.from('x'));
      await p;
    }
    expect(added).toBe(10);
    expect(removed).toBe(10);
  });
});

describe('FileSpool', () => {
  it('serves the bytes the writer says the file holds, no more', async () => {
    const { s, write } = fileSpool();
    write('hello ');
    appendFileSync(s.path, 'world'); // in the file, not yet announced
    expect((await s.read(0, 100)).toString()).toBe('hello ');
    const waiting = s.read(6, 100);
    expect(await state(waiting)).toBe('pending');
    s.advance(11);
    expect((await waiting).toString()).toBe('world');
    s.advance(3); // an old length: never shrinks
    expect(s.length).toBe(11);
    s.end();
    expect((await readAll(s, 4)).toString()).toBe('hello world');
  });

  it('reads straight into a caller buffer at any offset', async () => {
    const { s, write } = fileSpool();
    const data = randomBytes(300_000);
    write(data);
    s.end();
    const target = Buffer.alloc(131072);
    expect(await s.readInto(target, 100_000)).toBe(131072);
    expect(target.equals(data.subarray(100_000, 231_072))).toBe(true);
    expect(await s.readInto(target, 250_000)).toBe(50_000);
    expect(await s.readInto(target, 300_000)).toBe(0);
    const h = createHash('sha256')
      .update(await readAll(s, 65536))
      .digest('hex');
    expect(h).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('a file shorter than announced is an EIO, not a short read', async () => {
    const { s } = fileSpool();
    s.advance(10);
    await expect(s.read(0, 10)).rejects.toMatchObject({ code: 'EIO' });
  });

  it('dispose wakes readers with EOF and deletes the file', async () => {
    const { s, write } = fileSpool();
    write('abc');
    expect((await s.read(0, 3)).toString()).toBe('abc'); // opens the file
    const waiting = s.read(3, 10);
    await s.dispose();
    expect((await waiting).length).toBe(0);
    expect(existsSync(s.path)).toBe(false);
    expect((await s.read(0, 3)).length).toBe(0);
    await s.dispose(); // idempotent
  });

  it('a spool whose file was never made disposes quietly', async () => {
    const s = new FileSpool(join(dir, 'never'));
    s.end();
    expect((await s.read(0, 10)).length).toBe(0);
    await s.dispose();
  });
});
