/** `taskfs jobs`: the jobs of a mounted node, one a line (from `jobs/status`). */
import { clientMain, mountArgs } from './client-main.js';
import { readJobs, taskTotal } from './snapshot.js';
import { paint, percent, table } from './table.js';

export const jobsCommand = clientMain('jobs', async (argv) => {
  const args = await mountArgs(argv);
  if (args === 'help') return 'help';
  const { mount } = args;
  const jobs = await readJobs(mount);
  if (!jobs) throw new Error(`the node at ${mount} has no scheduler (no jobs/)`);
  const tty = process.stdout.isTTY === true;
  const rows = jobs.map((j) => [
    j.id,
    paint(j.state, tty),
    j.priority,
    j.queued,
    j.running,
    j.done,
    j.failed,
    percent(j.done + j.failed, taskTotal(j)),
    j.name,
  ]);
  const header = ['JOB', 'STATE', 'PRI', 'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'ENDED', 'NAME'];
  process.stdout.write(`${table(header, rows).join('\n')}\n`);
  return 0;
});
