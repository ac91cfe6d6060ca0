/**
 * Slurm on the command line (README "Slurm"): `--slurm PARTITION` mounts
 * that partition as a child of the node, and `slurm!PARTITION` becomes an
 * address `mount` on the node ctl (and `ns`) takes, with the same
 * --slurm-option and --slurm-taskfs.
 */
import { SlurmPartition, type SlurmSettings } from '../transport/slurm.js';
import type { TaskNode } from '../taskfs/node.js';
import { version } from './version.js';

export interface SlurmFlags {
  /** --slurm: the partition mounted at start, if any. */
  partition?: string;
  options: string[];
  taskfs: string;
}

/** slurm!PARTITION */
const SLURM_ADDRESS = /^slurm!([^!\s]+)$/;

/** Makes `node` take `slurm!PARTITION` addresses: a partition with these options. */
export function reachBySlurm(node: TaskNode, flags: SlurmFlags): void {
  const settings = (partition: string): SlurmSettings => ({
    partition,
    options: flags.options,
    taskfs: flags.taskfs,
    version,
  });
  const connect = node.connectChild;
  node.connectChild = (name, addr) => {
    const m = SLURM_ADDRESS.exec(addr);
    return m ? SlurmPartition.open(name, settings(m[1]!)) : connect(name, addr);
  };
}

/** --slurm PARTITION: that partition as the child slurm-PARTITION. */
export async function mountSlurm(node: TaskNode, flags: SlurmFlags): Promise<void> {
  if (flags.partition !== undefined) await node.mountChild(`slurm!${flags.partition}`, `slurm-${flags.partition}`);
}
