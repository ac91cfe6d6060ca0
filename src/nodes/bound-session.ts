/**
 * A session bound into another as one of its children, and what every
 * session directory holds. Declared here, below taskfs: child nodes
 * (remote sessions, behind the lost guard) and local slots (taskfs) both
 * make them, and a parent session drives them all through this one shape.
 */
import { snapshotText } from '../ns/handles.js';
import type { Node, OpenFile } from '../ns/types.js';

/**
 * A session somewhere (a slot on this node or a session on a remote node),
 * seen only through the tree interface. That sameness is what makes every
 * aggregated operation one loop.
 */
export interface BoundSession {
  /** The child's session directory. */
  readonly dir: Node;
  /** The open clone handle: writes are ctl writes; it owns the child's reservation. */
  readonly ctl: OpenFile;
  /** Leaf paths below the child ("" for a leaf), as its topology file says. */
  readonly topology: string;
  /** Close the clone handle (the child kills and releases) and remove its session. */
  release(): Promise<void>;
  /**
   * The child node this session lives on, whose fs/ is sent the staged
   * files before exec; absent for a slot of this node, which shares its fs/.
   */
  readonly host?: StagingHost;
  /** Why the child's node is gone, if it is (remote children only). */
  lost?(): string | undefined;
  /** The child's `import`, held open, on another machine (nodes/uplink.ts); local slots need none. */
  readonly uplink?: OpenFile;
  /** The share was asked for as optional: its leaves may end before the barrier. */
  readonly optional?: boolean;
}

/** A child node as staging sees it (README "Staging"): where to send, and its name for errors. */
export interface StagingHost {
  readonly name: string;
  readonly fs: Node;
}

/** The files of every session directory, in directory order (README "A session"). */
export const SESSION_FILE_NAMES = [
  'ctl',
  'args',
  'env',
  'ns',
  'stdin',
  'stdout',
  'stderr',
  'stdio',
  'status',
  'wait',
  'topology',
  'err',
  'barrier',
  'import',
] as const;

export type SessionFileName = (typeof SESSION_FILE_NAMES)[number];

export function leafCount(child: BoundSession): number {
  return child.topology === '' ? 1 : child.topology.split(' ').length;
}

/** The whole text of a snapshot file (status, topology) of a child's session. */
export async function readChildFile(dir: Node, name: string): Promise<string> {
  const node = await dir.walk?.(name);
  if (!node?.open) return '';
  return snapshotText(await node.open({ read: true, write: false }));
}
