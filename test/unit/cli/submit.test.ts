/** The tasks of a file for taskfs submit, and the progress line's times (src/cli/submit.ts, progress.ts). */
import { describe, expect, it } from 'vitest';
import { duration } from '../../../src/cli/progress.js';
import { taskLines } from '../../../src/cli/submit.js';

describe('taskLines', () => {
  it('keeps command lines, skips blank lines and # comments', () => {
    expect(taskLines("# render\necho a\n\n  \n  # indented comment\nsh -c 'echo b'\n", 'f')).toEqual([
      'echo a',
      "sh -c 'echo b'",
    ]);
  });

  it('names the line of a bad quote, and refuses a file with no task', () => {
    expect(() => taskLines("echo a\necho 'b\n", 'tasks.txt')).toThrow(/^tasks.txt:2: unbalanced quote/);
    expect(() => taskLines('\n# only\n', 'f')).toThrow('no tasks in f');
    expect(() => taskLines('', '-')).toThrow('no tasks in stdin');
  });
});

describe('duration', () => {
  it('seconds, minutes, hours', () => {
    expect(duration(9.4)).toBe('9s');
    expect(duration(125)).toBe('2m05s');
    expect(duration(3720)).toBe('1h02m');
  });
});
