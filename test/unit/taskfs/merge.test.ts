import { describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import type { OpenFile } from '../../../src/ns/types.js';
import { mergeLines } from '../../../src/taskfs/merge.js';

/** A source that yields the given chunks, one per read, with a pause between. */
function source(chunks: string[], delayMs = 0): OpenFile & { closed: boolean } {
  const data = chunks.map((c) => Buffer.from(c));
  let i = 0;
  const src = {
    closed: false,
    async read(_offset: number, count: number) {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const chunk = data[i++];
      return chunk ? chunk.subarray(0, count) : Buffer.alloc(0);
    },
    async write(): Promise<number> {
      throw new FsError('EACCES', 'read only');
    },
    async close() {
      src.closed = true;
    },
  };
  return src;
}

async function readAll(f: OpenFile, count = 7): Promise<string> {
  let out = '';
  let off = 0;
  for (;;) {
    const b = await f.read(off, count);
    if (b.length === 0) return out;
    out += b.toString();
    off += b.length;
  }
}

describe('mergeLines', () => {
  it('never splits a line of one source with bytes of another', async () => {
    const a = source(['a1\na', '2\na3', '\n'], 1);
    const b = source(['b1\nb2', '\n', 'b3\n'], 1);
    const out = await readAll(mergeLines([a, b]));
    const lines = out.split('\n').filter(Boolean);
    expect(lines.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3']);
  });

  it('flushes a partial last line at the source EOF', async () => {
    const out = await readAll(mergeLines([source(['x\nno newline']), source(['y\n'])]));
    expect(out.split('\n').sort()).toEqual(['no newline', 'x', 'y']);
  });

  it('a single source passes through untouched', () => {
    const s = source(['abc']);
    expect(mergeLines([s])).toBe(s);
  });

  it('an aborted read consumes nothing; the retry gets the bytes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: OpenFile = {
      async read(offset) {
        if (offset > 0) return Buffer.alloc(0);
        await gate;
        return Buffer.from('late\n');
      },
      write: async () => 0,
      close: async () => undefined,
    };
    const m = mergeLines([slow, source([])]);
    const ctl = new AbortController();
    const pending = m.read(0, 100, ctl.signal);
    ctl.abort();
    await expect(pending).rejects.toMatchObject({ code: 'EINTR' });
    release();
    expect((await m.read(0, 100)).toString()).toBe('late\n');
  });

  it('bounds memory: a huge line without newline is passed on in pieces', async () => {
    const big = 'z'.repeat(3000);
    const m = mergeLines([source([big, big, big]), source([])], { maxLineBytes: 4000, bufferBytes: 100_000 });
    expect((await readAll(m, 100_000)).length).toBe(9000);
  });

  it('close closes every source', async () => {
    const a = source(['a\n']);
    const b = source(['b\n']);
    await mergeLines([a, b]).close();
    expect(a.closed && b.closed).toBe(true);
  });
});
