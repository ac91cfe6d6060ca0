/**
 * `ranks/` of a session (README "Co-allocation"): one entry per leaf, by
 * its index in the session's topology, each that leaf's directory. In the
 * root session the index is the global rank, so any leaf reaches any other
 * by rank, wherever it runs.
 */
import { makeStat, qid, renamed } from '../ns/synthetic.js';
import type { Node } from '../ns/types.js';

export interface RankSource {
  /** Leaf paths relative to the session, as its topology file says. */
  topology(): string;
  /** The session's own directory, whose numbered children lead to the leaves. */
  dir(): Node;
}

export function ranksDir(source: RankSource, dirQid: bigint): Node {
  const paths = () => {
    const t = source.topology();
    return t === '' ? [] : t.split(' ');
  };
  const leaf = async (rank: string): Promise<Node | undefined> => {
    if (!/^(0|[1-9]\d*)$/.test(rank)) return undefined;
    const path = paths()[Number(rank)];
    if (path === undefined) return undefined;
    let node: Node | undefined = source.dir();
    for (const step of path.split('/')) node = await node?.walk?.(step);
    return node && renamed(node, rank);
  };
  return {
    stat: async () => makeStat('ranks', qid(dirQid, true), 0o555),
    walk: leaf,
    list: async () => {
      const found = await Promise.all(paths().map((_, r) => leaf(String(r))));
      return Promise.all(found.flatMap((n) => (n ? [n.stat()] : [])));
    },
  };
}
