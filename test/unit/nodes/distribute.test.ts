import { describe, expect, it } from 'vitest';
import { parseCapacity, shares, sumCapacity, usable } from '../../../src/nodes/distribute.js';

describe('shares', () => {
  it('is proportional to capacity', () => {
    expect(shares(4, [1, 3])).toEqual([1, 3]);
    expect(shares(8, [2, 2])).toEqual([4, 4]);
    expect(shares(6, [1, 2, 3])).toEqual([1, 2, 3]);
  });

  it('gives equal capacities shares that differ by at most one', () => {
    for (let n = 0; n < 50; n++) {
      for (let k = 1; k < 7; k++) {
        const s = shares(n, Array(k).fill(4));
        expect(s.reduce((a, b) => a + b, 0)).toBe(n);
        expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('always hands out exactly N, never to a zero capacity', () => {
    for (let n = 1; n < 40; n++) {
      const caps = [3, 0, 1, 7, 2];
      const s = shares(n, caps);
      expect(s.reduce((a, b) => a + b, 0)).toBe(n);
      expect(s[1]).toBe(0);
    }
  });

  it('refuses when nothing has capacity', () => {
    expect(() => shares(3, [0, 0])).toThrow(/no capacity/);
    expect(() => shares(3, [])).toThrow(/no capacity/);
  });
});

describe('capacity', () => {
  it('parses, matches and sums status lines', () => {
    const a = parseCapacity('2 Linux x86_64\n1 Linux arm64\n');
    const b = parseCapacity('3 Linux x86_64\ngarbage\n');
    expect(usable(a, '*', '*')).toBe(3);
    expect(usable(a, 'linux', 'ARM64')).toBe(1);
    expect(usable(a, 'Plan9', '*')).toBe(0);
    expect(sumCapacity([a, b])).toEqual([
      { count: 5, os: 'Linux', machine: 'x86_64' },
      { count: 1, os: 'Linux', machine: 'arm64' },
    ]);
  });
});
