/**
 * One machinery for every ctl file (README "ctl verbs"): a table of verbs,
 * each with its arity and usage, looked up by the first word of a line. A
 * write may hold several verbs, one per line; they run in order and the
 * first failure fails the write. After Inferno's cmdtab and lookupcmd.
 */
import { FsError, asFsError } from '../ns/errors.js';
import { tokenize } from '../ns/quote.js';

export interface Verb<T> {
  /** Words after the verb: [fewest, most]. */
  words: [number, number];
  usage: string;
  run(target: T, words: string[]): Promise<void> | void;
}

export type VerbTable<T> = Readonly<Record<string, Verb<T>>>;

/**
 * Runs each line of `text` through `table`. `what` names the file in the
 * unknown-verb error ("ctl verb", "node ctl verb", "job verb"); a failure
 * is handed to `onError` (to keep its text for an `err` file) and thrown.
 */
export async function runCtl<T>(
  table: VerbTable<T>,
  target: T,
  text: string,
  what: string,
  onError?: (e: FsError) => void,
): Promise<void> {
  try {
    for (const line of text.split('\n')) {
      if (line.trimStart().startsWith('#')) continue; // a comment, as `ns` writes for children that are down
      const words = tokenize(line);
      if (words.length === 0) continue;
      const [name, ...rest] = words as [string, ...string[]];
      const verb = Object.hasOwn(table, name) ? table[name] : undefined;
      if (!verb) throw new FsError('EINVAL', `unknown ${what}: ${name.length > 40 ? name.slice(0, 40) + '...' : name}`);
      if (rest.length < verb.words[0] || rest.length > verb.words[1])
        throw new FsError('EINVAL', `usage: ${verb.usage}`);
      await verb.run(target, rest);
    }
  } catch (err) {
    const e = asFsError(err);
    onError?.(e);
    throw e;
  }
}

/** A whole number word, or EINVAL naming the verb. */
export function whole(word: string, verb: string): number {
  if (!/^\d+$/.test(word)) throw new FsError('EINVAL', `${verb}: not a whole number: ${word}`);
  return Number(word);
}
