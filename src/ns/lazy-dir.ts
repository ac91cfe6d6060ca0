/**
 * A directory that is somewhere else, reached on first use (a tree served
 * from another machine): its stat is its own, walks and listings go to
 * the directory once `reach` finds it.
 */
import { makeStat, qid } from './synthetic.js';
import type { Node } from './types.js';

export function lazyDir(name: string, qidPath: bigint, reach: () => Promise<Node>): Node {
  let found: Promise<Node> | undefined;
  const target = () => {
    found ??= reach();
    found.catch(() => (found = undefined)); // a failed reach is tried again next time
    return found;
  };
  return {
    stat: async () => makeStat(name, qid(qidPath, true), 0o555),
    walk: async (entry) => (await target()).walk?.(entry),
    list: async () => (await target()).list?.() ?? [],
  };
}
