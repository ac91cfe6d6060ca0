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
  /**
   * Only a source whose own root runs nothing (a Slurm partition): hosts
   * held for jobs, `tasks` CPUs in all, each a node whose clone runs a
   * task, until released (README "Jobs: where tasks run").
   */
  allocate?(tasks: number): Promise<Allocation>;
}

/** Hosts a source lent for jobs: tasks run through each host's clone, up to its slots. */
export interface Allocation {
  readonly hosts: readonly AllocatedNode[];
  /** Aborted when a host's channel is lost: the allocation is of no more use. */
  readonly lostSignal: AbortSignal;
  release(): Promise<void>;
}

export interface AllocatedNode {
  readonly name: string;
  readonly root: Node;
  readonly slots: number;
}
