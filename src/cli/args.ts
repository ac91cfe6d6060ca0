/** The options `mount` and `serve` share, parsed once. */
import { parseArgs } from 'node:util';
import { nodeOptions } from './options.js';
import type { RuntimeOptions } from './runtime.js';

export const nodeOptionSpec = {
  slots: { type: 'string' },
  'strict-slots': { type: 'boolean' },
  name: { type: 'string' },
  workdir: { type: 'string' },
  listen: { type: 'string' },
  remote: { type: 'string', multiple: true },
  key: { type: 'string' },
  'max-sessions': { type: 'string' },
  'max-leaves': { type: 'string' },
  'spool-limit': { type: 'string' },
  'allow-other': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseNodeArgs(argv: string[]): { runtime: RuntimeOptions; positionals: string[]; help: boolean; allowOther: boolean } {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: nodeOptionSpec });
  return {
    runtime: { node: nodeOptions(values), listen: values.listen, remotes: values.remote ?? [], keyFile: values.key },
    positionals,
    help: values.help ?? false,
    allowOther: values['allow-other'] ?? false,
  };
}
