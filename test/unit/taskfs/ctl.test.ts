/**
 * The verb table machinery every ctl file runs on (runCtl in ctl.ts, README
 * "ctl verbs"): lookup by first word, arity, several lines in order, the
 * first failure stops the write, and its text goes to `onError`.
 */
import { describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import { runCtl, whole, type VerbTable } from '../../../src/taskfs/ctl.js';

/** A target that records what its verbs were asked to do. */
interface Log {
  done: string[];
}

const table: VerbTable<Log> = {
  say: { words: [1, 2], usage: 'say WORD [WORD]', run: (t, w) => void t.done.push(`say ${w.join('|')}`) },
  none: { words: [0, 0], usage: 'none', run: (t) => void t.done.push('none') },
  later: {
    words: [0, 0],
    usage: 'later',
    run: async (t) => {
      await new Promise((r) => setTimeout(r, 5));
      t.done.push('later');
    },
  },
  fail: {
    words: [0, 0],
    usage: 'fail',
    run: () => {
      throw new FsError('EBUSY', 'fail: busy now');
    },
  },
  crash: {
    words: [0, 0],
    usage: 'crash',
    run: () => {
      throw new Error('not an FsError');
    },
  },
  num: { words: [1, 1], usage: 'num N', run: (t, [n]) => void t.done.push(`num ${whole(n!, 'num')}`) },
};

async function ctl(text: string): Promise<{ done: string[]; err?: FsError; kept: string[] }> {
  const target: Log = { done: [] };
  const kept: string[] = [];
  try {
    await runCtl(table, target, text, 'test verb', (e) => kept.push(e.message));
    return { done: target.done, kept };
  } catch (err) {
    return { done: target.done, err: err as FsError, kept };
  }
}

describe('runCtl', () => {
  it('runs a verb with its words, Plan 9 quoting applied', async () => {
    expect(await ctl("say 'two words' 'it''s'\n")).toEqual({ done: ["say two words|it's"], kept: [] });
  });

  it('runs several lines in order, awaiting each, skipping blank lines', async () => {
    expect((await ctl('later\n\n  \nnone\nsay a\n')).done).toEqual(['later', 'none', 'say a']);
  });

  it('takes the last line without a newline', async () => {
    expect((await ctl('none\nsay x')).done).toEqual(['none', 'say x']);
  });

  it('checks the arity both ways and answers with the usage', async () => {
    for (const text of ['say', 'say a b c', 'none extra']) {
      const r = await ctl(text);
      expect(r.err).toBeInstanceOf(FsError);
      expect(r.err!.code).toBe('EINVAL');
      expect(r.done).toEqual([]);
    }
    expect((await ctl('say a b c')).err!.message).toBe('usage: say WORD [WORD]');
    expect((await ctl('none extra')).err!.message).toBe('usage: none');
  });

  it('refuses an unknown verb by the name it was given, cut at 40 characters', async () => {
    expect((await ctl('shout x')).err).toMatchObject({ code: 'EINVAL', message: 'unknown test verb: shout' });
    const long = 'x'.repeat(100);
    expect((await ctl(long)).err!.message).toBe(`unknown test verb: ${'x'.repeat(40)}...`);
  });

  it('does not take inherited properties for verbs', async () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect((await ctl(name)).err!.message).toBe(`unknown test verb: ${name}`);
    }
  });

  it('stops at the first failure: earlier lines stay done, later ones never run', async () => {
    const r = await ctl('say one\nfail\nsay two\n');
    expect(r.done).toEqual(['say one']);
    expect(r.err).toMatchObject({ code: 'EBUSY', message: 'fail: busy now' });
  });

  it('hands the failure to onError (the err file) and throws the same error', async () => {
    const r = await ctl('none\nbogus\nnone');
    expect(r.kept).toEqual(['unknown test verb: bogus']);
    expect(r.done).toEqual(['none']);
    expect(r.err!.message).toBe('unknown test verb: bogus');
  });

  it('turns any other error into an FsError', async () => {
    const r = await ctl('crash');
    expect(r.err).toBeInstanceOf(FsError);
    expect(r.kept).toHaveLength(1);
  });

  it('refuses unbalanced quotes before running the line', async () => {
    const r = await ctl("say 'open");
    expect(r.err).toMatchObject({ code: 'EINVAL' });
    expect(r.err!.message).toMatch(/unbalanced quote/);
    expect(r.done).toEqual([]);
  });

  it('whole: a whole number word, or EINVAL naming the verb', async () => {
    expect((await ctl('num 42')).done).toEqual(['num 42']);
    expect((await ctl('num -1')).err).toMatchObject({ code: 'EINVAL', message: 'num: not a whole number: -1' });
    expect((await ctl('num 1.5')).err!.message).toBe('num: not a whole number: 1.5');
  });
});
