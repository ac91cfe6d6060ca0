import { describe, expect, it } from 'vitest';
import { SyntheticDir, SyntheticFile, renamed } from '../../../src/ns/synthetic.js';
import { textHandle } from '../../../src/ns/handles.js';

const file = (name: string, length?: () => number | Promise<number>) =>
  new SyntheticFile({ name, qidPath: 7n, perm: 0o444, open: () => textHandle({ text: 'x' }), length });

describe('synthetic nodes: the fast paths agree with the async ones', () => {
  it('a file of known length is stat at once; one whose length must be waited for gives a promise', async () => {
    let n = 3;
    const known = file('out', () => n);
    const st = known.quickStat();
    expect(st).not.toBeInstanceOf(Promise);
    expect(st).toEqual(await known.stat());
    expect((st as { length: number }).length).toBe(3);
    n = 5; // a growing output file: every stat reads it afresh
    expect((known.quickStat() as { length: number }).length).toBe(5);
    const later = file('out', async () => 9).quickStat();
    expect(later).toBeInstanceOf(Promise);
    expect((await later).length).toBe(9);
  });

  it('a directory with a lookup walks at once; without one, walkNow says "ask walk", not "absent"', async () => {
    const status = file('status');
    const withLookup = new SyntheticDir({
      name: 'd',
      qidPath: 8n,
      entries: () => [['status', status]],
      lookup: (n) => (n === 'status' ? status : undefined),
    });
    expect(withLookup.walkNow('status')).toBe(status);
    expect(withLookup.walkNow('nope')).toBeUndefined();
    const listed = new SyntheticDir({ name: 'd', qidPath: 9n, entries: () => [['status', status]] });
    expect(listed.walkNow('status')).toBeUndefined();
    expect(await listed.walk('status')).toBe(status);
    expect(withLookup.quickStat()).toEqual(await withLookup.stat());
  });

  it('renamed passes the fast paths through under its own name', async () => {
    const dir = new SyntheticDir({ name: '4', qidPath: 10n, entries: () => [], lookup: () => undefined });
    const bound = renamed(dir, '0');
    expect(bound.quickStat!()).toMatchObject({ name: '0' });
    expect(await bound.stat()).toMatchObject({ name: '0' });
    const slow = renamed(
      file('stdout', async () => 2),
      'stdio',
    );
    const st = slow.quickStat!();
    expect(st).toBeInstanceOf(Promise);
    expect(await st).toMatchObject({ name: 'stdio', length: 2 });
  });
});
