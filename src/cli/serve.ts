/** `taskfs serve`: a node over 9P only, no FUSE (compute nodes, CI). */
import { parseNodeArgs } from './args.js';
import { startRuntime } from './runtime.js';
import { onStopSignals } from './signals.js';
import { usage } from './usage.js';

export async function serveCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseNodeArgs(argv);
    if (parsed.help) {
      process.stdout.write(usage.serve);
      return 0;
    }
    if (parsed.positionals.length > 0) throw new Error(`unexpected ${parsed.positionals[0]}`);
    if (!parsed.runtime.listen) throw new Error('--listen ADDR is required');
    if (parsed.allowOther) throw new Error('--allow-other is for mount: serve has no FUSE mount');
  } catch (err) {
    process.stderr.write(`taskfs serve: ${(err as Error).message}\n${usage.serve}`);
    return 2;
  }
  const { node } = parsed.runtime;
  process.title = `taskfs serve ${parsed.runtime.listen}`;
  const rt = await startRuntime(parsed.runtime);
  process.stderr.write(`taskfs: node ${node.name} listening on ${rt.listener!.address} (${node.slots} slots, workdir ${node.workdir})\n`);
  const why = await onStopSignals();
  process.stderr.write(`taskfs: ${why}: stopping node ${node.name}\n`);
  await rt.stop();
  return 0;
}
