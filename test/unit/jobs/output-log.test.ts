/** A job's stdout over per-task files (src/jobs/output-log.ts) and its wait log (text-log.ts). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OutputLog } from '../../../src/jobs/output-log.js';
import { TextLog } from '../../../src/jobs/text-log.js';

async function readAll(log: { read(o: number, n: number): Promise<Buffer> }, step: number): Promise<string> {
  const parts: Buffer[] = [];
  for (let o = 0; ; ) {
    const b = await log.read(o, step);
    if (b.length === 0) return Buffer.concat(parts).toString();
    parts.push(b);
    o += b.length;
  }
}

const dir = await mkdtemp(join(tmpdir(), 'taskfs-outlog-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('OutputLog', () => {
  it('reads the files in order as one stream of whole lines, at any read size', async () => {
    const files = ['a\nb\n', 'no newline', '', 'c\n'];
    const log = new OutputLog();
    for (const [i, text] of files.entries()) {
      const path = join(dir, String(i));
      await writeFile(path, text);
      log.add(path, text.length, text.length ? text.charCodeAt(text.length - 1) : undefined);
    }
    log.end();
    for (const step of [1, 2, 3, 5, 64]) expect(await readAll(log, step)).toBe('a\nb\nno newline\nc\n');
  });

  it('a read at the end waits for the next task, or the end', async () => {
    const log = new OutputLog();
    const pending = log.read(0, 10);
    const path = join(dir, 'late');
    await writeFile(path, 'late\n');
    log.add(path, 5, 0x0a);
    expect((await pending).toString()).toBe('late\n');
    const atEnd = log.read(5, 10);
    log.end();
    expect((await atEnd).length).toBe(0);
  });
});

describe('TextLog', () => {
  it('serves appended lines by offset', async () => {
    const log = new TextLog();
    log.append("0 n 1 2 ''\n");
    log.append("1 n 1 2 ''\n");
    log.end();
    for (const step of [1, 4, 100]) expect(await readAll(log, step)).toBe("0 n 1 2 ''\n1 n 1 2 ''\n");
  });

  it('counts bytes, not characters, in lines that are not ASCII', async () => {
    const log = new TextLog();
    const lines = ["0 n 1 2 'é'\n", "1 ñodo 1 2 ''\n", "2 n 1 2 '日本'\n"];
    for (const line of lines) log.append(line);
    log.end();
    expect(log.length).toBe(Buffer.byteLength(lines.join('')));
    for (const step of [1, 2, 3, 7, 100]) expect(await readAll(log, step)).toBe(lines.join(''));
  });
});
