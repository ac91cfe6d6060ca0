/** Rate-limited operator warnings: a flood of refused clients cannot fill the disk. */
import { describe, expect, it } from 'vitest';
import { rateLimited } from '../../../src/ninep/warn.js';

describe('rateLimited', () => {
  it('lets a burst through per window, counts the rest, and says so in the next window', () => {
    const out: string[] = [];
    let t = 0;
    const warn = rateLimited(
      (l) => out.push(l),
      { burst: 3, windowMs: 1000 },
      () => t,
    );
    for (let i = 0; i < 10_000; i++) warn(`refused ${i}`);
    expect(out).toEqual(['refused 0', 'refused 1', 'refused 2']);
    t = 999;
    warn('still the same window');
    expect(out).toHaveLength(3);
    t = 1000;
    warn('next window');
    warn('and another');
    expect(out.slice(3)).toEqual(['next window (9998 similar warnings suppressed)', 'and another']);
  });
});
