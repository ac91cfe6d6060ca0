/**
 * Which node holds each leaf of a session, for `taskfs run --label` on a
 * node with children, found through the files alone. A child's part of the
 * session (`N/i`) is a session of that child, numbered by the child
 * (`cat N/i/ctl`); the same number is found under several children's
 * `nodes/NAME/`, so each part's `env` gets a line of its own,
 * `TASKFS_RUN_ID=RUN:i`, and the part is the one under `nodes/NAME/K` that
 * shows it. This runs before `exec`; the leaves see the line too.
 */
import { appendFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { lines, parseMountLine } from '../taskfs/formats.js';
import { readIfThere, readText } from './mount-files.js';

const RUN_ID_VAR = 'TASKFS_RUN_ID';

/** A node's child names in `ns` order (none for a node without children); `# down ...` comments skipped. */
export async function childNames(nodeDir: string): Promise<string[]> {
  const ns = (await readIfThere(join(nodeDir, 'ns'))) ?? '';
  return lines(ns.replace(/^\s*#.*$/gm, ''), parseMountLine).map((m) => m.name);
}

/**
 * The node of each leaf path (as `topology` lists them) of the session
 * `session` made on the node mounted at `mount`, as `NAME` or
 * `NAME/SUBNAME` down a tree; '' for a leaf on the mounted node itself.
 */
export async function leafNodes(mount: string, session: string, leaves: string[], runId: string): Promise<string[]> {
  const found = new Map<string, Promise<string | undefined>>(); // session part dir -> node name
  const partNode = (nodeDir: string, partDir: string): Promise<string | undefined> => {
    let name = found.get(partDir);
    if (!name) found.set(partDir, (name = findPart(nodeDir, partDir, `${runId}:${relative(session, partDir)}`)));
    return name;
  };
  return Promise.all(
    leaves.map(async (leaf) => {
      let nodeDir = mount;
      let dir = session;
      const names: string[] = [];
      for (const step of leaf.split('/')) {
        dir = join(dir, step);
        const name = await partNode(nodeDir, dir);
        if (name === undefined) break; // a local slot: this node holds the rest
        names.push(name);
        nodeDir = join(nodeDir, 'nodes', name);
      }
      return names.join('/');
    }),
  );
}

/** The child of `nodeDir` whose session `partDir` is, or undefined for a local slot (no children). */
async function findPart(nodeDir: string, partDir: string, partId: string): Promise<string | undefined> {
  const names = await childNames(nodeDir);
  if (names.length === 0) return undefined;
  const tag = `${RUN_ID_VAR}=${partId}`;
  await appendFile(join(partDir, 'env'), `${tag}\n`);
  const id = (await readText(join(partDir, 'ctl'))).trim();
  for (const name of names) {
    const env = await readIfThere(join(nodeDir, 'nodes', name, id, 'env'));
    if (env?.split('\n').includes(tag)) return name;
  }
  return '?';
}
