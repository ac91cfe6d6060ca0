/**
 * Stdin fanned out to many leaves of one process server: the same buffers
 * to each leaf go as one frame naming them all (src/exec/stdin-frames.ts,
 * native/spawnd-input.c), and every leaf still gets its bytes in order, at
 * its own pace: a leaf that does not read holds only its own writer, a leaf
 * that exits fails only its own writes, eof reaches each.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeafProcess } from '../../../src/exec/process.js';
import { Spawner } from '../../../src/exec/spawner.js';
import { StdinFrames } from '../../../src/exec/stdin-frames.js';
import { FileSpool } from '../../../src/exec/spool.js';

const ROOT = resolve(import.meta.dirname, '../../..');
let bin: string;
let spawner: Spawner;
let dir: string;
let seq = 0;
const procs: LeafProcess[] = [];
const spools: FileSpool[] = [];

async function start(argv: string[]): Promise<{ p: LeafProcess; out: FileSpool }> {
  const out = new FileSpool(join(dir, `out-${seq++}`));
  const err = new FileSpool(join(dir, `err-${seq++}`));
  spools.push(out, err);
  const p = await LeafProcess.start({
    argv,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/bin' },
    spawner,
    stdout: out,
    stderr: err,
  });
  procs.push(p);
  return { p, out };
}

async function text(s: FileSpool): Promise<string> {
  const b = await s.read(0, s.length);
  return b.toString();
}

const sha = (b: Buffer | Buffer[]) =>
  createHash('sha256')
    .update(Buffer.isBuffer(b) ? b : Buffer.concat(b))
    .digest('hex');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Our own build of the server: another test file may be building build/ meanwhile.
  bin = join(mkdtempSync(join(tmpdir(), 'taskfs-spawnd-')), 'taskfs-spawnd');
  execFileSync('sh', ['-c', `cc -O2 -Wall -Wextra -o ${bin} native/spawnd-*.c`], { cwd: ROOT, stdio: 'inherit' });
  spawner = await Spawner.start(bin);
});

afterAll(async () => {
  await spawner.close();
  rmSync(resolve(bin, '..'), { recursive: true, force: true });
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskfs-fanout-'));
});

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill(200)));
  await Promise.all(spools.splice(0).map((s) => s.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

describe('StdinFrames', () => {
  it('groups the leaves given the same buffers, in order, and keeps the others apart', () => {
    const f = new StdinFrames();
    const [a, b, c] = [Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc')];
    for (const id of ['1', '2', '3']) f.add(id, a);
    for (const id of ['1', '2']) f.add(id, b);
    f.add('3', c);
    f.add('4', b);
    f.add('4', a);
    expect(f.most).toBe(4); // leaf 3: a and c
    expect(f.take()).toEqual([
      { ids: ['1', '2'], parts: [a, b] },
      { ids: ['3'], parts: [a, c] },
      { ids: ['4'], parts: [b, a] },
    ]);
    expect(f.empty).toBe(true);
    expect(f.most).toBe(0);
  });

  it('an equal buffer that is another object is not the same write', () => {
    const f = new StdinFrames();
    f.add('1', Buffer.from('x'));
    f.add('2', Buffer.from('x'));
    expect(f.take().map((fr) => fr.ids)).toEqual([['1'], ['2']]);
  });
});

describe('stdin fanned out through one process server', () => {
  it('one leaf that does not read holds only its own writer; the others get every byte, in order, and eof', async () => {
    const readers = await Promise.all([0, 1, 2].map(() => start(['sha256sum'])));
    const { p: stuck } = await start(['sleep', '100']);
    const parts: Buffer[] = [];
    let stuckWrite: Promise<void> | undefined;
    let stuckTook = 0;
    // As a session does: each leaf's writes one after another, the same buffer to each.
    for (let i = 0; i < 200; i++) {
      const data = randomBytes(4096 + ((i * 7919) % 60000));
      parts.push(data);
      if (!stuckWrite) {
        stuckWrite = stuck.writeStdin(data).then(() => {
          stuckTook++;
          stuckWrite = undefined;
        });
        stuckWrite.catch(() => undefined);
      }
      await Promise.all(readers.map(({ p }) => p.writeStdin(data)));
    }
    expect(stuckWrite).toBeDefined(); // still waiting: its pipe and window are full
    expect(stuckTook).toBeLessThan(parts.length);
    for (const { p } of readers) p.closeStdin();
    for (const { p, out } of readers) {
      await p.exited;
      expect(await text(out)).toBe(`${sha(parts)}  -\n`);
    }
    expect(stuck.running).toBe(true);
  });

  it('a leaf that exits mid-stream fails only its own writes', async () => {
    const readers = await Promise.all([0, 1].map(() => start(['sha256sum'])));
    const { p: quitter } = await start(['head', '-c', '100000']);
    const parts: Buffer[] = [];
    let failed: unknown;
    for (let i = 0; i < 64; i++) {
      const data = randomBytes(65536);
      parts.push(data);
      const mine = failed ? undefined : quitter.writeStdin(data).catch((err) => void (failed = err));
      await Promise.all([...readers.map(({ p }) => p.writeStdin(data)), mine]);
    }
    await quitter.exited;
    while (!failed) {
      await quitter.writeStdin(Buffer.from('more')).catch((err) => void (failed = err));
      await sleep(10);
    }
    expect(failed).toMatchObject({ code: 'EIO', message: 'stdin closed' });
    for (const { p } of readers) p.closeStdin();
    for (const { p, out } of readers) {
      await p.exited;
      expect(await text(out)).toBe(`${sha(parts)}  -\n`);
    }
  });

  it('small writes close together reach many leaves whole; eof after them reaches each', async () => {
    const leaves = await Promise.all([0, 1, 2, 3].map(() => start(['wc', '-c'])));
    let sent = 0;
    for (let i = 0; i < 2000; i++) {
      const data = Buffer.alloc(1 + (i % 4096), i);
      sent += data.length;
      await Promise.all(leaves.map(({ p }) => p.writeStdin(data)));
    }
    for (const { p } of leaves) p.closeStdin();
    for (const { p, out } of leaves) {
      await p.exited;
      expect((await text(out)).trim()).toBe(String(sent));
    }
  });

  it('many writes in one tick, none waited for, go in frames the server takes (each under its limit)', async () => {
    const leaves = await Promise.all([0, 1].map(() => start(['wc', '-c'])));
    const big = Buffer.alloc(1 << 20, 7);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 80; i++) for (const { p } of leaves) writes.push(p.writeStdin(big));
    await Promise.all(writes);
    for (const { p } of leaves) p.closeStdin();
    for (const { p, out } of leaves) {
      await p.exited;
      expect((await text(out)).trim()).toBe(String(80 << 20));
    }
  });
});
