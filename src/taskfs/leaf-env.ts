/**
 * The environment a leaf's process starts with (README "Environment of a
 * process", "Co-allocation"): the daemon's, the node's and the session's
 * settings, then where the leaf stands (rank, subjob) and the paths by
 * which it reaches its session, its parent and the root session: in the
 * node's mount, or, on a node with no mount, in its 9P tree at TASKFS_NODE.
 */
import { parseEnv } from './settings.js';

/** Where a leaf stands in its subjob (the root's child it descends from). */
export interface SubjobPlace {
  subjob: number;
  rank: number;
  size: number;
}

/** What of a session and its node the environment is made from. */
export interface LeafEnvSource {
  id: number;
  rank: number;
  size: number;
  subjob?: SubjobPlace;
  envText: string;
  /** The session it is bound in on this node, if any. */
  parentId?: number;
  /** A parent on another machine serves this session `up/ID/` (nodes/uplink.ts). */
  heldFromAbove: boolean;
  /** The topmost session on this node above it, and whether that one is held from above. */
  top: { id: number; heldFromAbove: boolean };
  node: {
    baseEnv: Readonly<Record<string, string>>;
    envText: string;
    mountpoint?: string;
    leafAddress?: string;
  };
}

export function leafEnv(s: LeafEnvSource): Record<string, string> {
  const env: Record<string, string> = { ...s.node.baseEnv, ...parseEnv(s.node.envText), ...parseEnv(s.envText) };
  env.TASKFS_RANK = String(s.rank);
  env.TASKFS_SIZE = String(s.size);
  const place = s.subjob ?? { subjob: 0, rank: 0, size: 1 };
  env.TASKFS_SUBJOB = String(place.subjob);
  env.TASKFS_SUBJOB_RANK = String(place.rank);
  env.TASKFS_SUBJOB_SIZE = String(place.size);
  const { mountpoint, leafAddress } = s.node;
  const base = mountpoint ?? (leafAddress ? '' : undefined);
  if (base === undefined) return env;
  if (!mountpoint) env.TASKFS_NODE = leafAddress!;
  env.TASKFS_SESSION = `${base}/${s.id}`;
  env.TASKFS_ROOT = s.top.heldFromAbove ? `${base}/up/${s.top.id}/root` : `${base}/${s.top.id}`;
  env.TASKFS_PARENT =
    s.parentId !== undefined ? `${base}/${s.parentId}` : s.heldFromAbove ? `${base}/up/${s.id}/parent` : base || '/';
  return env;
}
