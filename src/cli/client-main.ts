/**
 * How the mount's client commands start and fail: --help prints the usage
 * (exit 0), a usage mistake is one line pointing at --help (exit 2), any
 * other failure one line with the reason (exit 1).
 */
import { type OptionSpec, parseClientArgs } from './client-args.js';
import { checkMount, mountPath } from './mount-files.js';
import { UsageError } from './options.js';
import { usage } from './usage.js';

type ClientName = 'run' | 'submit' | 'jobs' | 'nodes' | 'top';

/** `body` returns the exit status, or 'help' when --help was asked for. */
export function clientMain(
  name: ClientName,
  body: (argv: string[]) => Promise<number | 'help'>,
): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      const status = await body(argv);
      if (status !== 'help') return status;
      process.stdout.write(usage[name]);
      return 0;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (err instanceof UsageError) {
        process.stderr.write(`taskfs ${name}: ${message} (see taskfs ${name} --help)\n`);
        return 2;
      }
      process.stderr.write(`taskfs ${name}: ${message}\n`);
      return 1;
    }
  };
}

/**
 * The arguments of a command that takes no words, only -m, -h and `extra`
 * options: the mount (checked to be a live one) and the option values.
 */
export async function mountArgs(
  argv: string[],
  extra: Record<string, OptionSpec> = {},
): Promise<'help' | { mount: string; values: Record<string, string | boolean | undefined> }> {
  const spec = { mount: { value: true, short: 'm' }, help: { short: 'h' }, ...extra };
  const { values, positionals } = parseClientArgs(argv, spec);
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals[0])}`);
  const mount = mountPath(values.mount as string | undefined);
  await checkMount(mount);
  return { mount, values };
}
