/** Tables, bars and clipping for jobs, nodes and top (src/cli/table.ts). */
import { describe, expect, it } from 'vitest';
import { bar, clip, paint, percent, table, width } from '../../../src/cli/table.js';

describe('table', () => {
  it('pads columns, right-aligns numbers (and - for unknown), leaves the last column ragged', () => {
    expect(
      table(
        ['NAME', 'SLOTS', 'BUSY', 'ATTRS'],
        [
          ['a', 8, 3, 'gpu=yes'],
          ['longer', 16, '-', ''],
        ],
      ),
    ).toEqual(['NAME    SLOTS  BUSY  ATTRS', 'a           8     3  gpu=yes', 'longer     16     -  ']);
  });

  it('measures coloured cells by what shows', () => {
    const up = paint('Up', true);
    expect(up).toBe('\x1b[32mUp\x1b[0m');
    expect(width(up)).toBe(2);
    expect(table(['S', 'N'], [[up, 1]])[1]).toBe(`${up}  1`);
    expect(paint('Up', false)).toBe('Up');
  });

  it('bars and percentages', () => {
    expect(bar(1, 4, 8)).toBe('[##......]');
    expect(bar(5, 4, 4)).toBe('[####]');
    expect(bar(0, 0, 4)).toBe('[....]');
    expect(percent(1, 3)).toBe('33%');
    expect(percent(0, 0)).toBe('-');
  });

  it('clips to the visible width, escapes kept whole', () => {
    expect(clip('abcdef', 10)).toBe('abcdef');
    expect(clip('abcdef', 3)).toBe('abc\x1b[0m');
    expect(clip('\x1b[1mabcdef\x1b[0m', 2)).toBe('\x1b[1mab\x1b[0m');
  });
});
