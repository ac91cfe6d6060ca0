/**
 * The environment a leaf's process starts with (README "Environment of a
 * process", "Co-allocation"): the daemon's, the node's and the session's
 * settings, then where the leaf stands (rank, subjob) and the paths by
 * which it reaches its session, its parent and the root session: in the
 * node's mount, or, on a node with no mount, in its 9P tree at TASKFS_NODE.
 */
import { encodeEnv, type EnvBlock } from '../exec/env-block.js';
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

/** A leaf's own variables (where it stands), and the rest, shared with its siblings and encoded once. */
export interface LeafEnv {
  own: Record<string, string>;
  shared: EnvBlock;
}

export function leafEnv(s: LeafEnvSource): LeafEnv {
  const own = placeEnv(s);
  return { own, shared: sharedEnv(s, own) };
}

/** The variables that say where this leaf stands: they win over any of the same name. */
function placeEnv(s: LeafEnvSource): Record<string, string> {
  const env: Record<string, string> = {};
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

/**
 * The daemon's, node's and session's variables, less the leaf's own: the
 * same for every leaf of a launch, so encoded once (a few per node kept).
 */
const sharedBlocks = new WeakMap<object, Map<string, EnvBlock>>();
const KEPT_BLOCKS = 16;

function sharedEnv(s: LeafEnvSource, own: Record<string, string>): EnvBlock {
  const key = `${Object.keys(own).join(',')}\0${s.node.envText}\0${s.envText}`;
  let blocks = sharedBlocks.get(s.node);
  if (!blocks) sharedBlocks.set(s.node, (blocks = new Map()));
  let block = blocks.get(key);
  if (!block) {
    const env: Record<string, string> = { ...s.node.baseEnv, ...parseEnv(s.node.envText), ...parseEnv(s.envText) };
    for (const k of Object.keys(own)) delete env[k];
    block = encodeEnv(env);
    if (blocks.size >= KEPT_BLOCKS) blocks.delete(blocks.keys().next().value!);
    blocks.set(key, block);
  }
  return block;
}
