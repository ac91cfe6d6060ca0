// Actions become ctl lines: one line per action, words quoted, nothing smuggled.
import { describe, expect, it } from 'vitest';
import { tokenize } from '../../../src/ns/quote.js';
import { ctlLine, taskLines, word } from '../../../src/web/api-routes.js';

describe('ctl lines from the JSON interface', () => {
  it('quotes each word so a name with blanks stays one word', () => {
    expect(ctlLine('name', ['render frames'])).toBe("name 'render frames'\n");
    expect(ctlLine('priority', ['-10'])).toBe('priority -10\n');
    expect(tokenize(ctlLine('delnode', ["it's"]).trim())).toEqual(['delnode', "it's"]);
  });

  it('refuses a word with a line break (a second verb) or nothing in it', () => {
    expect(() => word('stop\nwipe', 'verb')).toThrow(/control characters/);
    expect(() => word('', 'verb')).toThrow(/wants a word/);
    expect(() => word({}, 'verb')).toThrow(/wants a word/);
    expect(word(5, 'priority')).toBe('5');
  });

  it('takes tasks as a list or a text of lines, blank lines dropped', () => {
    expect(taskLines(['echo a', '', 'echo b'])).toEqual(['echo a', 'echo b']);
    expect(taskLines("echo a\r\n\n sh -c 'x y'\n")).toEqual(['echo a', " sh -c 'x y'"]);
    expect(() => taskLines('\n \n')).toThrow(/no tasks/);
    expect(() => taskLines(3)).toThrow(/wants a list/);
  });
});
