/**
 * What the plots draw: a few numbers per snapshot, the last HISTORY_SAMPLES
 * of them, in memory only (a monitor started later starts with an empty
 * plot; the files hold the truth, not this).
 */
import type { Snapshot } from './snapshot.js';

/** At one sample every SAMPLE_MS (live-feed.ts), six minutes. */
export const HISTORY_SAMPLES = 180;

export interface Sample {
  /** Unix epoch milliseconds. */
  t: number;
  /** Tasks of every job: running, queued, and ended (done + failed) so far. */
  running: number;
  queued: number;
  finished: number;
  /** Session leaves in Execute. */
  leaves: number;
}

export function sampleOf(s: Snapshot): Sample {
  const sum = (f: (j: NonNullable<Snapshot['jobs']>[number]) => number) => (s.jobs ?? []).reduce((n, j) => n + f(j), 0);
  const leaves = s.sessions.reduce((n, x) => n + x.leaves.filter((l) => l.state === 'Execute').length, 0);
  return {
    t: s.time,
    running: sum((j) => j.running),
    queued: sum((j) => j.queued),
    finished: sum((j) => j.done + j.failed),
    leaves,
  };
}

export class History {
  private readonly samples: Sample[] = [];

  add(sample: Sample): void {
    this.samples.push(sample);
    if (this.samples.length > HISTORY_SAMPLES) this.samples.splice(0, this.samples.length - HISTORY_SAMPLES);
  }

  all(): readonly Sample[] {
    return this.samples;
  }
}
