/**
 * Staged files into a child node's fs/ over 9P, before `exec` is sent to
 * it (README "Staging"): the child's `.sums` is read first, and only files
 * whose SHA-256 differs or that it lacks are sent, streamed. The child
 * then stages them into its own leaves, and so on down: each byte crosses
 * each link once. The child's fs/ then mirrors this one: files it has
 * that this node has not are removed, so no leaf sees a file its user
 * took away (a child mounted by two parents holds the last one's files).
 */
import { FsError, asFsError } from '../ns/errors.js';
import { sendFile } from '../ns/copy.js';
import type { Node } from '../ns/types.js';
import { readChildFile, type StagingHost } from '../nodes/bound-session.js';
import { formatSums, parseSums, type StagedSum, type Staging } from './staging.js';

/** The child's fs/ made to mirror this node's; two execs at once stage one after the other. */
export function stageToChild(staging: Staging, host: StagingHost): Promise<void> {
  const next = (staging.sending.get(host) ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => mirror(staging, host));
  staging.sending.set(host, next);
  return next;
}

async function mirror(staging: Staging, host: StagingHost): Promise<void> {
  const ours = await staging.sums();
  const text = formatSums(ours);
  // While this node's fs/ is what the child was last left holding, an exec
  // sends nothing and asks nothing: with nothing staged it costs no round
  // trip. A child's fs/ changed behind its parent's back is set right once
  // the parent's fs/ changes.
  if (staging.mirrored.get(host) === text) return;
  staging.mirrored.delete(host);
  const theirs = parseSums(await readChildFile(host.fs, '.sums'));
  const wanted = new Set(ours.map((f) => f.rel));
  for (const rel of theirs.keys()) {
    if (!wanted.has(rel)) await removePath(host.fs, rel.split('/')).catch(() => undefined);
  }
  const dirs = new Map<string, Promise<Node>>([['', Promise.resolve(host.fs)]]);
  for (const f of ours) {
    if (theirs.get(f.rel) === f.sha256) continue;
    try {
      await sendOne(f, await childDir(dirs, f.rel.split('/').slice(0, -1)));
    } catch (err) {
      const e = asFsError(err);
      throw new FsError(e.code, `staging ${f.rel} to node ${host.name}: ${e.message}`);
    }
    staging.sentBytes += f.size;
    staging.sentFiles++;
  }
  staging.mirrored.set(host, text);
}

async function sendOne(f: StagedSum, dir: Node): Promise<void> {
  const name = f.rel.slice(f.rel.lastIndexOf('/') + 1);
  const there = await dir.walk!(name);
  const node = there ?? (await made(dir, name, false, f.mode));
  const file = await node.open!({ read: false, write: true, truncate: true });
  try {
    await sendFile(f.path, file, f.size);
  } finally {
    await file.close();
  }
  if (there) await node.chmod?.(f.mode);
}

/**
 * Made, or made meanwhile by someone else: two child nodes may share one
 * workdir (ssh hosts that are one machine), and so one fs/.
 */
async function made(dir: Node, name: string, isDir: boolean, perm?: number): Promise<Node> {
  try {
    return await dir.create!(name, isDir, perm);
  } catch (err) {
    const there = asFsError(err).code === 'EEXIST' ? await dir.walk!(name) : undefined;
    if (!there) throw err;
    return there;
  }
}

async function removePath(root: Node, names: string[]): Promise<void> {
  let node: Node | undefined = root;
  for (const name of names) node = await node?.walk?.(name);
  await node?.remove?.();
}

/** The child's directory at `names`, made if missing; each is looked up once per staging. */
function childDir(dirs: Map<string, Promise<Node>>, names: string[]): Promise<Node> {
  const key = names.join('/');
  let dir = dirs.get(key);
  if (!dir) {
    dir = childDir(dirs, names.slice(0, -1)).then(async (parent) => {
      const name = names[names.length - 1]!;
      return (await parent.walk!(name)) ?? made(parent, name, true);
    });
    dirs.set(key, dir);
  }
  return dir;
}
