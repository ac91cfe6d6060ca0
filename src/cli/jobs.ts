/**
 * The job scheduler wired into a node (README "Jobs"): jobs/ in the node's
 * root, its journal in WORKDIR/jobs, and the default workdir moved on when
 * a live node holds that journal.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { jobsDir } from '../jobs/files.js';
import { takeLock } from '../jobs/journal.js';
import { asFsError } from '../ns/errors.js';
import { Scheduler } from '../jobs/scheduler.js';
import type { TaskNode } from '../taskfs/node.js';

export async function startJobs(node: TaskNode): Promise<Scheduler> {
  const scheduler = await Scheduler.open(node, join(node.opts.workdir, 'jobs'));
  node.extraDirs.set('jobs', jobsDir(scheduler));
  return scheduler;
}

/**
 * `base`, or the first of base.2, base.3 ... whose jobs journal no live
 * node holds, its lock taken at once: nodes started together (ssh children
 * on one host) each get their own.
 */
export function freeWorkdir(base: string): string {
  for (let i = 1; ; i++) {
    const dir = i === 1 ? base : `${base}.${i}`;
    mkdirSync(join(dir, 'jobs'), { recursive: true, mode: 0o700 });
    try {
      takeLock(join(dir, 'jobs', 'lock'));
      return dir;
    } catch (err) {
      if (asFsError(err).code !== 'EBUSY') throw err;
    }
  }
}
