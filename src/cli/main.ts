/** The command line: the only place that sees every layer. One table of subcommands. */
import { joinCommand } from './join.js';
import { jobsCommand } from './list-jobs.js';
import { nodesCommand } from './list-nodes.js';
import { mountCommand } from './mount.js';
import { runCommand } from './run.js';
import { serveCommand } from './serve.js';
import { submitCommand } from './submit.js';
import { topCommand } from './top.js';
import { usage } from './usage.js';

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  mount: mountCommand,
  serve: serveCommand,
  join: joinCommand,
  run: runCommand,
  submit: submitCommand,
  jobs: jobsCommand,
  nodes: nodesCommand,
  top: topCommand,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || ['help', '-h', '--help'].includes(command)) {
    process.stdout.write(usage.main);
    return command === undefined ? 2 : 0;
  }
  const handler = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (handler) return handler(rest);
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
