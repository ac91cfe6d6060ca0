/**
 * The priority order (README "Jobs"): a free worker takes the first queued
 * task of the job with the highest priority among those it may serve
 * (not stopped, not cancelled, its `need` met by the worker's attributes);
 * within one priority, first in first out across jobs.
 *
 * Why not p-queue: it orders one stream of closures for one concurrency
 * limit, with a priority fixed when a closure is added. Here every worker
 * has its own capacity and attributes, a job's priority changes all its
 * queued tasks at once, a stopped job keeps its place, and the queue must
 * be rebuilt from the journal: a scan over the jobs (few) picking the head
 * of each job's FIFO (many tasks) does all of that in a few lines.
 */
import type { Job, Task } from './job.js';

export function needMet(job: Job, attrs: ReadonlyMap<string, string>): boolean {
  for (const [k, v] of job.need) if (attrs.get(k) !== v) return false;
  return true;
}

/** The job whose next task a worker with `attrs` should run, if any. */
export function pickJob(jobs: Iterable<Job>, attrs: ReadonlyMap<string, string>): Job | undefined {
  let best: Job | undefined;
  let bestHead: Task | undefined;
  for (const job of jobs) {
    if (job.stopped || job.cancelled || job.queued === 0) continue;
    if (best && job.priority < best.priority) continue;
    if (!needMet(job, attrs)) continue;
    const head = job.peek();
    if (!head) continue;
    if (!best || job.priority > best.priority || head.seq < bestHead!.seq) {
      best = job;
      bestHead = head;
    }
  }
  return best;
}
