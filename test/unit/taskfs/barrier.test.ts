/** The barrier's line format and a leaf's barrier (README "Co-allocation"). */
import { describe, expect, it } from 'vitest';
import { Barrier, formatCount, parseCount } from '../../../src/taskfs/barrier.js';

describe('barrier lines', () => {
  it('ARRIVED TOTAL STATE, a failure with its quoted reason', () => {
    expect(formatCount({ arrived: 3, total: 4, state: 'Waiting' })).toBe('3 4 Waiting\n');
    const failed = { arrived: 1, total: 4, state: 'Failed' as const, reason: "rank 2 ended (exit: 1) it's gone" };
    expect(parseCount(formatCount(failed))).toEqual(failed);
    expect(parseCount('x 4 Waiting')).toMatchObject({ state: 'Failed', reason: /bad barrier line/ });
  });
});

describe('a root leaf barrier', () => {
  const host = (ended: () => string | undefined, optional = false) => ({
    isRoot: () => true,
    optional: () => optional,
    leafEnded: ended,
    leafName: () => 'rank 0 (cmd/1)',
    children: () => [],
    isOptional: () => false,
  });

  it('releases itself on arrival; a manual one waits for release, which only a pending barrier takes', async () => {
    const auto = new Barrier(host(() => undefined));
    auto.reset();
    await auto.arrive();
    expect(formatCount(auto.count())).toBe('1 1 Released\n');
    expect(() => auto.releaseVerb()).toThrow(/no barrier pending/);

    const manual = new Barrier(host(() => undefined));
    manual.setManual(true, false);
    manual.reset();
    let through = false;
    const arrived = manual.arrive().then(() => (through = true));
    await new Promise((r) => setTimeout(r, 20));
    expect([through, formatCount(manual.count())]).toEqual([false, '1 1 Waiting\n']);
    manual.releaseVerb();
    await arrived;
    expect(() => manual.setManual(false, true)).toThrow(/before the first exec/);
  });

  it('a required leaf that ends before the release fails; an optional one is left out', () => {
    let ended: string | undefined;
    const required = new Barrier(host(() => ended));
    required.reset();
    ended = 'signal: 9';
    required.changed();
    expect(formatCount(required.count())).toBe(
      "0 1 Failed 'rank 0 (cmd/1) ended before the barrier''s release (signal: 9)'\n",
    );
    const optional = new Barrier(host(() => 'exit: 1', true));
    optional.reset();
    expect(optional.count()).toMatchObject({ arrived: 0, total: 0 });
  });
});
