/**
 * The journal (src/jobs/journal.ts): records round-trip, a torn tail is
 * dropped at every byte offset, group commit, compaction, and one live
 * node per journal.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, crc32, decodeRecords, encodeRecord } from '../../../src/jobs/journal.js';

const dirs: string[] = [];
async function dir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'taskfs-journal-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const records = [
  ['job', 0],
  ['set', 0, 'name', "render 'frames'"],
  ['add', 0, 0, "sh -c 'echo task-0'"],
  ['run', 0, 0, 'node1', 1, 1764586800123],
  ['end', 0, 0, 'Done', 'node1', 1, 1764586800123, 212, ''],
] as const;

describe('journal records', () => {
  it('crc32 is the IEEE one', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('round-trip, quoting included', () => {
    const data = Buffer.concat(records.map((r) => encodeRecord(r)));
    const { records: back, length } = decodeRecords(data);
    expect(length).toBe(data.length);
    expect(back).toEqual(records.map((r) => r.map(String)));
  });

  it('a tail cut at any byte offset is dropped, never parsed', () => {
    const whole = records.map((r) => encodeRecord(r));
    const data = Buffer.concat(whole);
    const ends: number[] = [];
    for (const b of whole) ends.push((ends.at(-1) ?? 0) + b.length);
    for (let cut = 0; cut <= data.length; cut++) {
      const { records: back, length } = decodeRecords(data.subarray(0, cut));
      const complete = ends.filter((e) => e <= cut).length;
      expect(back).toHaveLength(complete);
      expect(length).toBe(complete === 0 ? 0 : ends[complete - 1]);
    }
  });

  it('a flipped byte ends the replay there', () => {
    const data = Buffer.concat(records.map((r) => encodeRecord(r)));
    const second = encodeRecord(records[0]).length;
    data[second + 12] ^= 0x20;
    expect(decodeRecords(data).records).toHaveLength(1);
  });
});

describe('Journal', () => {
  it('appends (group commit), replays, cuts a torn tail and compacts', async () => {
    const d = await dir();
    const j = await Journal.open(d, () => undefined);
    await Promise.all(records.map((r) => j.append(r)));
    await j.close();
    await writeFile(join(d, 'journal'), Buffer.concat([await readFile(join(d, 'journal')), Buffer.from('12 34 ad')]));
    const seen: string[][] = [];
    const k = await Journal.open(d, (w) => seen.push(w));
    expect(seen).toHaveLength(records.length);
    expect((await readFile(join(d, 'journal'))).toString().endsWith('\n')).toBe(true);
    await k.compact([['job', 0]]);
    await k.append(['job', 1]);
    await k.close();
    const again: string[][] = [];
    await (await Journal.open(d, (w) => again.push(w))).close();
    expect(again).toEqual([
      ['job', '0'],
      ['job', '1'],
    ]);
  });

  it('refuses a journal a live node holds, takes over a dead one', async () => {
    const d = await dir();
    await writeFile(join(d, 'lock'), '1\n'); // pid 1 is alive
    await expect(Journal.open(d, () => undefined)).rejects.toThrow(/in use by the node with pid 1/);
    await writeFile(join(d, 'lock'), '999999999\n');
    await (await Journal.open(d, () => undefined)).close();
  });

  it('nodes starting at once on one host each get a workdir of their own (ssh children)', async () => {
    // Real processes, as 16 `serve --stdio` over ssh are: each takes the
    // first free workdir (dist/cli/jobs.js, built by scripts/build) and
    // stays alive, holding it, until its stdin closes.
    const base = join(await dir(), 'w');
    // Then, as a node does, the journal there opens, taking the lock it holds again.
    const dist = join(resolve(import.meta.dirname, '../../..'), 'dist');
    const script = `const { freeWorkdir } = await import(${JSON.stringify(join(dist, 'cli/jobs.js'))});
      const { Journal } = await import(${JSON.stringify(join(dist, 'jobs/journal.js'))});
      const dir = freeWorkdir(${JSON.stringify(base)});
      await Journal.open(dir + '/jobs', () => undefined);
      console.log(dir);
      process.stdin.resume();`;
    const nodes = Array.from({ length: 12 }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    const taken = await Promise.all(
      nodes.map(
        (n) =>
          new Promise<string>((ok, fail) => {
            let out = '';
            n.stdout!.on('data', (d: Buffer) => {
              out += d;
              if (out.endsWith('\n')) ok(out.trim());
            });
            n.once('exit', (code) => fail(new Error(`exited ${code} before taking a workdir`)));
          }),
      ),
    );
    for (const n of nodes) n.stdin!.end();
    expect(new Set(taken).size).toBe(nodes.length);
    for (const [i, d] of taken.entries()) {
      expect(await readFile(join(d, 'jobs', 'lock'), 'utf8')).toBe(`${nodes[i]!.pid}\n`);
    }
  });
});
