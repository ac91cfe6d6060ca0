import type { Node, OpenFile } from '../ns/types.js';
import type { StagingHost } from './stage-to-child.js';

/**
 * A session bound into another as one of its children: a session somewhere (a slot on this node or
 * a session on a remote node), seen only through the tree interface. That
 * sameness is what makes every aggregated operation one loop.
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
}

export function leafCount(child: BoundSession): number {
  return child.topology === '' ? 1 : child.topology.split(' ').length;
}

/** Read a whole file: for snapshot files (status, topology) that never block. */
export async function readWhole(file: OpenFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const data = await file.read(offset, 64 * 1024);
    if (data.length === 0) return Buffer.concat(parts);
    parts.push(data);
    offset += data.length;
  }
}

export async function readChildFile(dir: Node, name: string): Promise<string> {
  const node = await dir.walk?.(name);
  if (!node?.open) return '';
  const file = await node.open({ read: true, write: false });
  try {
    return (await readWhole(file)).toString();
  } finally {
    void file.close(); // a remote clunk need not be waited for: one round trip less
  }
}
