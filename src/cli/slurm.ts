/**
 * Slurm on the command line (README "Slurm"): `--slurm PARTITION` mounts
 * that partition as a child of the node, and `slurm!PARTITION` becomes an
 * address `mount` on the node ctl (and `ns`) takes, with the same
 * --slurm-option and --slurm-taskfs.
 */
import type { SlurmSettings } from '../transport/slurm.js';
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

/**
 * Makes `node` take `slurm!PARTITION` addresses: a partition with these
 * options. The Slurm code loads with the first such address: most nodes
 * never see one, and what a node loads is its start (README "Performance").
 */
export function reachBySlurm(node: TaskNode, flags: SlurmFlags): void {
  const settings = (partition: string): SlurmSettings => ({
    partition,
    options: flags.options,
    taskfs: flags.taskfs,
    version,
  });
  const connect = node.connectChild;
  node.connectChild = async (name, addr) => {
    const m = SLURM_ADDRESS.exec(addr);
    if (!m) return connect(name, addr);
    const { SlurmPartition } = await import('../transport/slurm.js');
    return SlurmPartition.open(name, settings(m[1]!));
  };
}

/** --slurm PARTITION: that partition as the child slurm-PARTITION. */
export async function mountSlurm(node: TaskNode, flags: SlurmFlags): Promise<void> {
  if (flags.partition !== undefined) await node.mountChild(`slurm!${flags.partition}`, `slurm-${flags.partition}`);
}
