/**
 * How the mount's client commands start and fail: --help prints the usage
 * (exit 0), a usage mistake is one line pointing at --help (exit 2), any
 * other failure one line with the reason (exit 1).
 */
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
