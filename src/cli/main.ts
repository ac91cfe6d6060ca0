/** The command line: the only place that sees every layer. */
import { mountCommand } from './mount.js';
import { serveCommand } from './serve.js';
import { usage } from './usage.js';
import { version } from './version.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'mount':
      return mountCommand(rest);
    case 'serve':
      return serveCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`taskfs ${version}\n`);
      return 0;
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(usage.main);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`taskfs: unknown command ${JSON.stringify(command)}\n${usage.main}`);
      return 2;
  }
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
