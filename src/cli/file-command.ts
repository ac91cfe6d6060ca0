/**
 * `taskfs 9p [-a ADDR] read|write|ls PATH`: one file of a node's tree over
 * 9P, for leaves on a node that has no FUSE mount (README "Co-allocation:
 * reaching the root"): there TASKFS_ROOT and the other paths are paths in
 * the node's tree, and TASKFS_NODE is where to dial it. After plan9port's
 * `9p -a ADDR read PATH`.
 */
import { parseArgs } from 'node:util';
import { FsError } from '../ns/errors.js';
import type { Node } from '../ns/types.js';
import { connect } from '../ninep/client.js';
import { usage } from './usage.js';

export async function fileCommand(argv: string[]): Promise<number> {
  let parsed: { values: { addr?: string }; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { addr: { type: 'string', short: 'a' } } });
  } catch (err) {
    process.stderr.write(`taskfs 9p: ${(err as Error).message}\n${usage.file}`);
    return 2;
  }
  const [verb, path, ...extra] = parsed.positionals;
  const addr = parsed.values.addr ?? process.env.TASKFS_NODE;
  if (!verb || !path || extra.length > 0 || !['read', 'write', 'ls'].includes(verb)) {
    process.stderr.write(usage.file);
    return 2;
  }
  if (!addr) {
    process.stderr.write('taskfs 9p: no address: give -a ADDR (leaves of a node without a mount have TASKFS_NODE)\n');
    return 2;
  }
  const client = await connect(addr);
  try {
    let node: Node | undefined = client.root;
    for (const name of path.split('/').filter((n) => n !== '' && n !== '.')) node = await node?.walk?.(name);
    if (!node) throw new FsError('ENOENT', `${path}: file does not exist`);
    if (verb === 'ls') {
      for (const st of (await node.list?.()) ?? []) process.stdout.write(`${st.name}\n`);
    } else if (verb === 'read') {
      const file = await node.open!({ read: true, write: false });
      for (let offset = 0; ; ) {
        const data = await file.read(offset, 64 * 1024);
        if (data.length === 0) break;
        offset += data.length;
        if (!process.stdout.write(data)) await new Promise((r) => process.stdout.once('drain', r));
      }
      await file.close();
    } else {
      // All of stdin, written at once: one write is one message to an mbox.
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      const file = await node.open!({ read: false, write: true, truncate: true });
      await file.write(Buffer.concat(chunks), 0);
      await file.close();
    }
    return 0;
  } catch (err) {
    process.stderr.write(`taskfs 9p: ${path}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await client.close();
  }
}
