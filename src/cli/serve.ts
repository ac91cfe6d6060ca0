/** `taskfs serve`: a node over 9P only, no FUSE (compute nodes, CI). */
import { parseCommand } from './args.js';
import { startRuntime } from './runtime.js';
import { onStopSignals } from './signals.js';

export async function serveCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('serve', argv, (args) => {
    if (args.positionals.length > 0) throw new Error(`unexpected ${args.positionals[0]}`);
    if (!args.runtime.listen) throw new Error('--listen ADDR is required');
    if (args.allowOther) throw new Error('--allow-other is for mount: serve has no FUSE mount');
  });
  if (typeof parsed === 'number') return parsed;
  const { node } = parsed.runtime;
  process.title = `taskfs serve ${parsed.runtime.listen}`;
  const rt = await startRuntime(parsed.runtime);
  process.stderr.write(
    `taskfs: node ${node.name} listening on ${rt.listener!.address} (${node.slots} slots, workdir ${node.workdir})\n`,
  );
  const why = await onStopSignals();
  process.stderr.write(`taskfs: ${why}: stopping node ${node.name}\n`);
  await rt.stop();
  return 0;
}
