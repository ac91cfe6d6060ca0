/** The priority order (src/jobs/queue.ts) and task lines (src/jobs/task-lines.ts). */
import { describe, expect, it } from 'vitest';
import { Job } from '../../../src/jobs/job.js';
import { pickJob } from '../../../src/jobs/queue.js';
import { parseTaskLines } from '../../../src/jobs/task-lines.js';

let seq = 0;
function job(id: number, priority: number, tasks: number): Job {
  const j = new Job(id, `/nonexistent/${id}`);
  j.priority = priority;
  for (let i = 0; i < tasks; i++) j.addTask(j.reserveIds(1), ['true'], seq++);
  return j;
}

describe('pickJob', () => {
  const none = new Map<string, string>();

  it('highest priority first, then first in first out across jobs', () => {
    const a = job(0, 0, 2);
    const b = job(1, 10, 1);
    const c = job(2, 0, 1);
    expect(pickJob([a, b, c], none)).toBe(b);
    b.take();
    expect(pickJob([a, b, c], none)).toBe(a);
    a.take();
    a.take();
    expect(pickJob([a, b, c], none)).toBe(c);
    c.take();
    expect(pickJob([a, b, c], none)).toBeUndefined();
  });

  it('skips stopped and cancelled jobs, and jobs whose need the worker does not meet', () => {
    const a = job(10, 5, 1);
    const b = job(11, 0, 1);
    a.need.set('gpu', 'yes');
    expect(pickJob([a, b], none)).toBe(b);
    expect(pickJob([a, b], new Map([['gpu', 'yes']]))).toBe(a);
    b.stopped = true;
    expect(pickJob([a, b], none)).toBeUndefined();
    b.stopped = false;
    b.cancelled = true;
    expect(pickJob([b], none)).toBeUndefined();
  });

  it('a task that comes back goes first', () => {
    const a = job(20, 0, 3);
    const first = a.take()!;
    a.enqueue(first, true);
    expect(a.take()).toBe(first);
    expect(a.queued).toBe(2);
  });
});

describe('parseTaskLines', () => {
  it('one command a line in Plan 9 quoting; blank lines skipped', () => {
    expect(parseTaskLines("sh -c 'echo it''s'\n\ntrue\n")).toEqual([['sh', '-c', "echo it's"], ['true']]);
  });

  it('a bad line refuses the whole write, saying which', () => {
    expect(() => parseTaskLines("true\nsh -c 'oops\n")).toThrow(/line 2: unbalanced quote.*nothing taken/);
    expect(() => parseTaskLines('x'.repeat(70_000))).toThrow(/longer than 65536 bytes/);
  });
});
