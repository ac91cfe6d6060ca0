/** The options `mount` and `serve` share, parsed once. */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { expandHostlist } from '../transport/hostlist.js';
import { expandHome, nodeOptions, sshOptions } from './options.js';
import type { RuntimeOptions } from './runtime.js';
import { usage } from './usage.js';

export const nodeOptionSpec = {
  slots: { type: 'string' },
  'strict-slots': { type: 'boolean' },
  name: { type: 'string' },
  workdir: { type: 'string' },
  listen: { type: 'string' },
  http: { type: 'string' },
  stdio: { type: 'boolean' },
  remote: { type: 'string', multiple: true },
  hosts: { type: 'string', multiple: true },
  'ssh-taskfs': { type: 'string' },
  'ssh-option': { type: 'string', multiple: true },
  key: { type: 'string' },
  slurm: { type: 'string' },
  'slurm-option': { type: 'string', multiple: true },
  'slurm-taskfs': { type: 'string' },
  'max-sessions': { type: 'string' },
  'max-leaves': { type: 'string' },
  'spool-limit': { type: 'string' },
  'allow-other': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface NodeArgs {
  runtime: RuntimeOptions;
  positionals: string[];
  help: boolean;
  allowOther: boolean;
  /** serve --stdio: one 9P connection on stdin/stdout. */
  stdio: boolean;
}

/**
 * The arguments of `mount` or `serve`, checked by `check` (which throws the
 * reason). A number instead means: exit with it (help was printed, or the
 * usage error with the usage text).
 */
export function parseCommand(
  command: 'mount' | 'serve',
  argv: string[],
  check: (args: NodeArgs) => void,
): NodeArgs | number {
  try {
    const args = parseNodeArgs(argv, command);
    if (args.help) {
      process.stdout.write(usage[command]);
      return 0;
    }
    check(args);
    return args;
  } catch (err) {
    process.stderr.write(`taskfs ${command}: ${(err as Error).message}\n${usage[command]}`);
    return 2;
  }
}

export function parseNodeArgs(argv: string[], command: 'mount' | 'serve'): NodeArgs {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: nodeOptionSpec });
  const where =
    command === 'mount'
      ? resolve(expandHome(positionals[0] ?? '~/tasks'))
      : values.stdio
        ? 'stdio'
        : (values.listen ?? 'serve');
  return {
    runtime: {
      node: nodeOptions(values, where),
      listen: values.listen,
      http: values.http,
      remotes: values.remote ?? [],
      hosts: (values.hosts ?? []).flatMap(expandHostlist),
      ssh: sshOptions(values, process.env),
      keyFile: values.key,
      defaultWorkdir: values.workdir === undefined,
      slurm: {
        partition: values.slurm,
        options: values['slurm-option'] ?? [],
        taskfs: values['slurm-taskfs'] ?? 'taskfs',
      },
    },
    positionals,
    help: values.help ?? false,
    allowOther: values['allow-other'] ?? false,
    stdio: values.stdio ?? false,
  };
}
