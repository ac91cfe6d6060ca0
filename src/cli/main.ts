/** The command line: the only place that sees every layer. One table of subcommands. */
import { usage } from './usage.js';
import { version } from './version.js';

type Command = (argv: string[]) => Promise<number>;

/**
 * Each command loads only what it needs: the mount's clients (run, jobs ...)
 * start without the FUSE binding, the node or the scheduler (README
 * "The mount's clients": 1.36 s rather than 2.23 s on a loaded machine).
 */
const commands: Record<string, () => Promise<Command>> = {
  mount: async () => (await import('./mount.js')).mountCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  join: async () => (await import('./join.js')).joinCommand,
  run: async () => (await import('./run.js')).runCommand,
  submit: async () => (await import('./submit.js')).submitCommand,
  jobs: async () => (await import('./list-jobs.js')).jobsCommand,
  nodes: async () => (await import('./list-nodes.js')).nodesCommand,
  top: async () => (await import('./top.js')).topCommand,
  '9p': async () => (await import('./file-command.js')).fileCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || ['help', '-h', '--help'].includes(command)) {
    process.stdout.write(usage.main);
    return command === undefined ? 2 : 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`taskfs ${version}\n`);
    return 0;
  }
  const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (load) return (await load())(rest);
  process.stderr.write(`taskfs: unknown command ${JSON.stringify(command)}\n${usage.main}`);
  return 2;
}

// Exit explicitly: the FUSE binding's thread can keep the loop alive after
// an unmount from outside, and a stopped node has nothing left to finish.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`taskfs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
