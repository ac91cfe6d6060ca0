/** Writes to a remote stream that return before the round trip (src/ninep/write-behind.ts). */
import { describe, expect, it, vi } from 'vitest';
import { WriteBehind } from '../../../src/ninep/write-behind.js';

describe('WriteBehind', () => {
  it('keeps order, sends one write at a time, and coalesces what piles up', async () => {
    const sent: Buffer[] = [];
    let inflight = 0;
    const wb = new WriteBehind(
      async (d) => {
        inflight++;
        expect(inflight).toBe(1);
        await new Promise((r) => setTimeout(r, 2));
        sent.push(d);
        inflight--;
      },
      1000,
      4000,
    );
    const all: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const b = Buffer.alloc(128, i);
      all.push(b);
      await wb.write(b);
    }
    await wb.drain();
    expect(Buffer.concat(sent)).toEqual(Buffer.concat(all));
    expect(sent.length).toBeLessThan(100); // writes that queued behind one on the wire left together
    expect(Math.max(...sent.map((s) => s.length))).toBeLessThanOrEqual(1000);
  });

  it('holds a writer while the window is full, and lets it go as bytes are taken', async () => {
    let release!: () => void;
    const wb = new WriteBehind(() => new Promise<void>((r) => (release = r)), 1000, 1000);
    await wb.write(Buffer.alloc(1000));
    let done = false;
    const second = wb.write(Buffer.alloc(10)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await second;
    expect(done).toBe(true);
  });

  it('an interrupted wait for room takes nothing', async () => {
    const sent: Buffer[] = [];
    let release!: () => void;
    const wb = new WriteBehind(
      (d) => {
        sent.push(d);
        return new Promise<void>((r) => (release = r));
      },
      1000,
      1000,
    );
    await wb.write(Buffer.from('a'.repeat(1000)));
    const ctl = new AbortController();
    const blocked = wb.write(Buffer.from('b'), ctl.signal);
    ctl.abort();
    await expect(blocked).rejects.toMatchObject({ code: 'EINTR' });
    release();
    await wb.drain();
    expect(Buffer.concat(sent).toString()).toBe('a'.repeat(1000));
  });

  it('reports a failure on the next write and on drain', async () => {
    const wb = new WriteBehind(async () => Promise.reject(new Error('child gone')), 1000, 4000);
    await wb.write(Buffer.from('x'));
    await expect(wb.drain()).rejects.toThrow('child gone');
    await expect(wb.write(Buffer.from('y'))).rejects.toThrow('child gone');
  });

  it('a lone write goes at once; small writes streaming in just after an answer wait to go together; drain sends at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const sent: string[] = [];
      const wb = new WriteBehind(
        async (d) => {
          sent.push(d.toString());
        },
        1 << 20,
        4 << 20,
      );
      const settle = () => new Promise((r) => setImmediate(r));
      await wb.write(Buffer.from('first'));
      await settle();
      expect(sent).toEqual(['first']); // nothing before it: no wait
      for (let i = 0; i < 10; i++) await wb.write(Buffer.from(String(i)));
      await settle();
      expect(sent).toEqual(['first']); // right after an answer: lingering for more
      vi.advanceTimersByTime(10);
      await settle();
      expect(sent).toEqual(['first', '0123456789']);
      vi.advanceTimersByTime(1000);
      await wb.write(Buffer.from('a'));
      await wb.write(Buffer.from('b'));
      await wb.drain(); // does not wait out the linger
      expect(sent).toEqual(['first', '0123456789', 'a', 'b']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a batch worth of bytes goes without lingering', async () => {
    const sent: Buffer[] = [];
    const wb = new WriteBehind(
      async (d) => {
        sent.push(d);
      },
      1 << 20,
      4 << 20,
    );
    await wb.write(Buffer.from('first'));
    await new Promise((r) => setImmediate(r));
    await wb.write(Buffer.alloc(512 * 1024));
    await new Promise((r) => setImmediate(r));
    expect(sent.map((b) => b.length)).toEqual([5, 512 * 1024]);
  });
});
