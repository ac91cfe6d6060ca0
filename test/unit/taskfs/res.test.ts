/** `res` words (README "ctl verbs", "Co-allocation"): a count and a match, or shares placed by node. */
import { describe, expect, it } from 'vitest';
import { parseRes } from '../../../src/taskfs/verbs.js';

describe('parseRes', () => {
  it.each([
    [['4'], { count: 4, grow: false, os: '*', machine: '*', placed: [] }],
    [['+2', 'Linux'], { count: 2, grow: true, os: 'Linux', machine: '*', placed: [] }],
    [
      ['2@a', '1@b', 'optional', '3@c.x-1', 'required'],
      {
        count: 6,
        grow: false,
        placed: [
          { count: 2, node: 'a', optional: false },
          { count: 1, node: 'b', optional: true },
          { count: 3, node: 'c.x-1', optional: false },
        ],
      },
    ],
    [['+1@a'], { count: 1, grow: true, placed: [{ count: 1, node: 'a', optional: false }] }],
  ])('%j', (words, want) => expect(parseRes(words, 100)).toMatchObject(want));

  it.each([
    [['x'], /bad count/],
    [['4', 'a', 'b', 'c'], /usage/],
    [['2@a', 'x@b'], /bad share/],
    [['0@a'], /bad share/],
    [['2@a', '+1@b'], /bad share/],
    [['2@a/b'], /bad share/],
    [['2@a', 'optional', 'optional', '60@b'], /more than the limit/],
  ])('%j is refused', (words, why) => expect(() => parseRes(words, 50)).toThrow(why));

  it('optional before any share is refused', () => {
    expect(() => parseRes(['2@a', 'optional'], 10)).not.toThrow();
    expect(() => parseRes(['optional@x'], 10)).toThrow(/bad share/);
  });
});
