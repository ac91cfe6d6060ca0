import { describe, expect, it } from 'vitest';
import { quote, tokenize } from '../../../src/ns/quote.js';

describe('Plan 9 quoting', () => {
  it('splits on blanks and groups single quotes', () => {
    expect(tokenize('exec  echo\thello   world')).toEqual(['exec', 'echo', 'hello', 'world']);
    expect(tokenize("exec sh -c 'echo a b'")).toEqual(['exec', 'sh', '-c', 'echo a b']);
    expect(tokenize("a'b c'd")).toEqual(['ab cd']);
    expect(tokenize("''")).toEqual(['']);
    expect(tokenize("'it''s'")).toEqual(["it's"]);
    expect(tokenize('   ')).toEqual([]);
  });

  it('refuses an unbalanced quote', () => {
    expect(() => tokenize("exec 'oops")).toThrow(/unbalanced quote/);
  });

  it('quotes only what needs it, and round-trips', () => {
    expect(quote('')).toBe("''");
    expect(quote('hostname')).toBe('hostname');
    expect(quote('/home/ana/work')).toBe('/home/ana/work');
    expect(quote('exit: 3')).toBe("'exit: 3'");
    expect(quote("it's")).toBe("'it''s'");
    for (const w of ['', 'a b', "'", "a''b", 'tab\there', 'x=y', '$HOME']) expect(tokenize(quote(w))).toEqual([w]);
  });
});
