/**
 * Options of the mount's clients (run, submit, jobs, nodes, top). Unlike
 * node:util's parseArgs it can stop at the first word that is not an
 * option, so that in `taskfs run -n 4 ls -l` the `-l` belongs to `ls`.
 * Every mistake is one UsageError line.
 */
import { UsageError } from './options.js';

export interface OptionSpec {
  /** Takes a value (`-n 4`, `--name=x`) rather than being a flag. */
  value?: boolean;
  short?: string;
}

export interface ClientArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseClientArgs(
  argv: string[],
  spec: Record<string, OptionSpec>,
  { stopAtPositional = false } = {},
): ClientArgs {
  const shorts = new Map(Object.entries(spec).flatMap(([long, o]) => (o.short ? [[o.short, long]] : [])));
  const values: ClientArgs['values'] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      if (stopAtPositional) {
        positionals.push(...argv.slice(i));
        break;
      }
      positionals.push(word);
      continue;
    }
    const long = word.startsWith('--');
    const eq = word.indexOf('=');
    const name = long ? word.slice(2, eq > 0 ? eq : undefined) : shorts.get(word[1]!);
    const option = name === undefined ? undefined : spec[name];
    if (name === undefined || !option) throw new UsageError(`unknown option ${long ? word.split('=')[0] : word}`);
    if (!option.value) {
      if (long && eq > 0) throw new UsageError(`--${name} takes no value`);
      if (!long && word.length > 2) throw new UsageError(`unknown option ${word}`);
      values[name] = true;
      continue;
    }
    // --name=value, --name value, -nVALUE, -n VALUE
    let value: string | undefined = long ? (eq > 0 ? word.slice(eq + 1) : undefined) : word.slice(2) || undefined;
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new UsageError(`${long ? `--${name}` : `-${word[1]}`} wants a value`);
    values[name] = value;
  }
  return { values, positionals };
}
