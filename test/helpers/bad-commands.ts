/**
 * The bad-input tables of the command-line clients (README "Command line"):
 * each command, run at once in parallel (each is a Node start), must exit
 * with its code and say why in exactly one line on stderr.
 */
import { expect } from 'vitest';
import { sh } from './daemon.js';

export type BadCommand = [command: string, code: number, message: RegExp];

export async function expectOneLineFailures(cases: BadCommand[], opts: { quietStdout?: boolean } = {}): Promise<void> {
  const results = await Promise.all(cases.map(([cmd]) => sh(cmd)));
  for (const [i, [cmd, code, message]] of cases.entries()) {
    const r = results[i]!;
    expect({ cmd, code: r.code }).toEqual({ cmd, code });
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    if (opts.quietStdout) expect(r.stdout).toBe('');
  }
}
