/**
 * Task lines as written to a job's `tasks` (or printed by a generator):
 * one command a line, in Plan 9 quoting; blank lines are skipped. Every
 * line is checked before any is taken, so a bad write accepts nothing.
 */
import { FsError } from '../ns/errors.js';
import { tokenize } from '../ns/quote.js';

/** A task line longer than this is refused. */
export const MAX_TASK_LINE_BYTES = 64 * 1024;

export function parseTaskLines(text: string): string[][] {
  const tasks: string[][] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (Buffer.byteLength(line) > MAX_TASK_LINE_BYTES)
      throw new FsError('E2BIG', `tasks: line ${i + 1} is longer than ${MAX_TASK_LINE_BYTES} bytes: nothing taken`);
    let argv: string[];
    try {
      argv = tokenize(line);
    } catch (err) {
      throw new FsError('EINVAL', `tasks: line ${i + 1}: ${(err as Error).message}: nothing taken`);
    }
    if (argv.length > 0) tasks.push(argv);
  }
  return tasks;
}
