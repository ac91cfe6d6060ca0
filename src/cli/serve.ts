/**
 * `taskfs serve`: a node over 9P only, no FUSE (compute nodes, CI). With
 * `--listen ADDR` it takes any number of connections; with `--stdio` it
 * serves exactly one on its stdin and stdout (what ssh and srun start) and
 * stops, killing what it started, when that connection closes.
 */
import { Duplex } from 'node:stream';
import { join } from 'node:path';
import { listen, serveConnection } from '../ninep/server.js';
import { parseCommand } from './args.js';
import { startRuntime } from './runtime.js';
import { onStopSignals } from './signals.js';
import { version } from './version.js';

export async function serveCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('serve', argv, (args) => {
    if (args.positionals.length > 0) throw new Error(`unexpected ${args.positionals[0]}`);
    if (!args.runtime.listen && !args.stdio) throw new Error('--listen ADDR or --stdio is required');
    if (args.allowOther) throw new Error('--allow-other is for mount: serve has no FUSE mount');
  });
  if (typeof parsed === 'number') return parsed;
  const { node } = parsed.runtime;
  process.title = `taskfs serve ${parsed.stdio ? '--stdio' : parsed.runtime.listen}`;
  const rt = await startRuntime(parsed.runtime);
  // Leaves here have no mount: they reach this node's tree (TASKFS_ROOT ...) at a private socket.
  const leafListener = await listen(`unix!${join(rt.node.spoolDir, 'node.sock')}`, () => rt.node.root).catch(
    (err: Error) => void process.stderr.write(`taskfs: leaves get no TASKFS_NODE: ${err.message}\n`),
  );
  rt.node.leafAddress = leafListener?.address;
  let hangup: Promise<string> | undefined;
  if (parsed.stdio) {
    const channel = Duplex.from({ readable: process.stdin, writable: process.stdout });
    // A write to a channel whose reader is gone must end the node, not the process.
    channel.on('error', () => channel.destroy());
    const conn = serveConnection(channel, () => rt.node.root, { key: rt.key });
    hangup = conn.closed.then(() => 'connection closed');
  }
  const where = [
    rt.listener && `listening on ${rt.listener.address}`,
    parsed.stdio && 'serving stdin/stdout',
    rt.web && `web monitor at ${rt.web.url}`,
  ]
    .filter(Boolean)
    .join(', ');
  // With --stdio this line says the node is ready, and its version: a parent
  // over ssh waits for it (src/transport/stdio-channel.ts) before speaking 9P.
  process.stderr.write(
    `taskfs: node ${node.name} ${where} (${node.slots} slots, workdir ${node.workdir}, taskfs ${version})\n`,
  );
  const why = await onStopSignals(hangup);
  process.stderr.write(`taskfs: ${why}: stopping node ${node.name}\n`);
  await leafListener?.close();
  await rt.stop();
  return 0;
}
