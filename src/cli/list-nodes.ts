/** `taskfs nodes`: the workers of a mounted node, one a line (from `jobs/nodes`). */
import { clientMain, mountArgs } from './client-main.js';
import { readNodes } from './snapshot.js';
import { paint, table } from './table.js';

export const nodesCommand = clientMain('nodes', async (argv) => {
  const args = await mountArgs(argv);
  if (args === 'help') return 'help';
  const { mount } = args;
  const tty = process.stdout.isTTY === true;
  const nodes = await readNodes(mount);
  if (!nodes) throw new Error(`the node at ${mount} has no scheduler (no jobs/)`);
  const rows = nodes.map((n) => [n.name, paint(n.state, tty), n.slots, n.busy, n.attrs]);
  process.stdout.write(`${table(['NAME', 'STATE', 'SLOTS', 'BUSY', 'ATTRS'], rows).join('\n')}\n`);
  return 0;
});
