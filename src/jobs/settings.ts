/**
 * A job's settings, checked and set in one place: by the job verbs (after
 * the journal has the record) and by the journal's replay. `checkOnly`
 * throws what a bad value deserves and changes nothing.
 */
import { FsError } from '../ns/errors.js';
import { PRIORITY_WORDS, type Job } from './job.js';
import { parseAttr } from './worker.js';

export function applySetting(job: Job, verb: string, value: string, checkOnly = false): void {
  switch (verb) {
    case 'name':
      if (!checkOnly) job.name = value;
      return;
    case 'priority': {
      const n = PRIORITY_WORDS[value] ?? (/^-?\d{1,9}$/.test(value) ? Number(value) : undefined);
      if (n === undefined)
        throw new FsError('EINVAL', `priority: want high, normal, low or a whole number, not ${JSON.stringify(value)}`);
      if (!checkOnly) job.priority = n;
      return;
    }
    case 'retries': {
      if (!/^\d{1,6}$/.test(value)) throw new FsError('EINVAL', `retries: not a whole number: ${value}`);
      if (!checkOnly) job.retries = Number(value);
      return;
    }
    case 'timeout': {
      if (!/^\d{1,9}(\.\d+)?$/.test(value)) throw new FsError('EINVAL', `timeout: not a number of seconds: ${value}`);
      if (!checkOnly) job.timeout = Number(value);
      return;
    }
    case 'need': {
      const kv = parseAttr(value);
      if (!kv) throw new FsError('EINVAL', `need: want KEY=VALUE, not ${JSON.stringify(value)}`);
      if (!checkOnly) job.need.set(kv[0], kv[1]);
      return;
    }
    case 'gen':
      if (!checkOnly) job.gen = value;
      return;
    case 'stop':
    case 'start':
      if (!checkOnly) job.stopped = verb === 'stop';
      return;
    case 'close':
      if (!checkOnly) job.closed = true;
      return;
    case 'cancel':
      if (!checkOnly) job.cancelled = true;
      return;
    default:
      throw new FsError('EINVAL', `unknown job setting: ${verb}`);
  }
}
