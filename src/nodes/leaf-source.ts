/**
 * What a node needs of each of its children: a child node over 9P
 * (ChildNode) or anything else that hands out leaves, such as a Slurm
 * partition. TaskNode mounts, splits reservations among and lists these,
 * and knows nothing more about them.
 */
import type { Node } from '../ns/types.js';
import type { BoundSession } from './bound-session.js';
import type { CapacityLine } from './distribute.js';

export interface LeafSource {
  /** Its name under nodes/ and in `ns`. */
  readonly name: string;
  /** What nodes/NAME shows. */
  readonly root: Node;
  /** Why it is gone, once it is: it then takes no more shares. */
  readonly lost: string | undefined;
  /** Aborted when it is lost. */
  readonly lostSignal: AbortSignal;
  /** What it can take now, as "COUNT OS MACHINE" lines. */
  capacity(): Promise<CapacityLine[]>;
  /** A session with `share` leaves (one leaf for a share of 1), bound into a session of the node. */
  reserve(share: number, os: string, machine: string): Promise<BoundSession>;
  close(): Promise<void>;
  /** Its line in the node's `ns`: "mount ADDR NAME". */
  mountLine(): string;
}
