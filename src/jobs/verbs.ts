/**
 * The verbs of a job's ctl (and of the clone handle that made it) and of
 * jobs/ctl, as verb tables run by runCtl (README "Jobs: verbs").
 */
import { FsError } from '../ns/errors.js';
import { runCtl, type VerbTable } from '../taskfs/ctl.js';
import { quote } from '../ns/quote.js';
import type { Job } from './job.js';
import type { Scheduler } from './scheduler.js';
import { parseAttr } from './worker.js';

interface JobTarget {
  s: Scheduler;
  job: Job;
}

const setting = (verb: string, usage: string, words: [number, number] = [1, 1]) => ({
  words,
  usage,
  run: ({ s, job }: JobTarget, w: string[]) => s.set(job, verb, w.join(' ')),
});

const jobVerbs: VerbTable<JobTarget> = {
  name: setting('name', 'name NAME', [1, Infinity]),
  priority: setting('priority', 'priority high|normal|low|N'),
  stop: setting('stop', 'stop', [0, 0]),
  start: setting('start', 'start', [0, 0]),
  retries: setting('retries', 'retries N'),
  timeout: setting('timeout', 'timeout SECONDS'),
  need: setting('need', 'need KEY=VALUE'),
  close: setting('close', 'close', [0, 0]),
  gen: {
    words: [1, Infinity],
    usage: 'gen CMD [ARG...]',
    run: ({ s, job }, w) => s.set(job, 'gen', w.map(quote).join(' ')),
  },
  cancel: { words: [0, 0], usage: 'cancel', run: ({ s, job }) => s.cancel(job) },
  wipe: { words: [0, 0], usage: 'wipe', run: ({ s, job }) => s.wipe(job) },
};

export function jobCtl(s: Scheduler, job: Job, text: string): Promise<void> {
  const keep = (e: FsError) => void (job.lastError = e.message);
  if (job.wiped) {
    const e = new FsError('ENOENT', `job ${job.id} has been wiped`);
    keep(e);
    return Promise.reject(e);
  }
  return runCtl(jobVerbs, { s, job }, text, 'job verb', keep);
}

const schedulerVerbs: VerbTable<Scheduler> = {
  delnode: { words: [1, 1], usage: 'delnode NAME', run: (s, [name]) => s.removeWorker(name!) },
  attr: {
    words: [2, Infinity],
    usage: 'attr NAME KEY=VALUE...',
    run: (s, [name, ...pairs]) => {
      const worker = s.workers.get(name!);
      if (!worker) throw new FsError('ENOENT', `attr: no worker ${name}`);
      const parsed = pairs.map((p) => parseAttr(p) ?? badAttr(p));
      for (const [k, v] of parsed) worker.attrs.set(k, v);
      s.dispatch();
    },
  },
};

function badAttr(word: string): never {
  throw new FsError('EINVAL', `attr: want KEY=VALUE, not ${JSON.stringify(word)}`);
}

export function schedulerCtl(s: Scheduler, text: string): Promise<void> {
  return runCtl(schedulerVerbs, s, text, 'jobs ctl verb', (e) => void (s.lastError = e.message));
}
