import { FsError } from './errors.js';
import type { Node } from './types.js';

/** Split a slash path into names, dropping empty and "." parts. */
export function pathNames(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/**
 * Resolve `names` from `root`. ".." is resolved textually by the caller
 * (see resolveRelative): a synthetic tree has no parent pointers.
 */
export async function walkNames(root: Node, names: readonly string[]): Promise<Node> {
  let node = root;
  for (const name of names) {
    if (!node.walk) throw new FsError('ENOTDIR', `${name}: not a directory`);
    const next = await node.walk(name);
    if (!next) throw new FsError('ENOENT', `${name}: file does not exist`);
    node = next;
  }
  return node;
}

/** Names of `rel` taken relative to the directory at `base` names, with "..". */
export function resolveRelative(base: readonly string[], rel: string): string[] {
  const out = rel.startsWith('/') ? [] : [...base];
  for (const part of pathNames(rel)) {
    if (part === '..') {
      if (out.length === 0) throw new FsError('ENOENT', `${rel}: outside the tree`);
      out.pop();
    } else out.push(part);
  }
  return out;
}
