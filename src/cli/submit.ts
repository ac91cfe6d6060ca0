/**
 * `taskfs submit`: a job made from a file of tasks, one a line, through
 * `jobs/clone`, `N/ctl` and `N/tasks`, then closed. With --wait it stays
 * until the job is complete: the tasks' output as they end, and progress
 * (done/total, rate, time left) on a terminal.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { quote, tokenize } from '../ns/quote.js';
import { parseClientArgs } from './client-args.js';
import { clientMain } from './client-main.js';
import { lines, parseTaskWait } from '../taskfs/formats.js';
import { LineSplitter, put } from './leaf-output.js';
import { CloneHandle, checkMount, follow, mountPath } from './mount-files.js';
import { UsageError } from './options.js';
import { Progress } from './progress.js';

const spec = {
  mount: { value: true, short: 'm' },
  priority: { value: true },
  name: { value: true },
  wait: {},
  help: { short: 'h' },
};

export const submitCommand = clientMain('submit', async (argv) => {
  const { values: v, positionals } = parseClientArgs(argv, spec);
  if (v.help) return 'help';
  if (positionals.length > 1) throw new UsageError('one file of tasks at most');
  const priority = v.priority as string | undefined;
  if (priority !== undefined && !/^(high|normal|low|-?\d+)$/.test(priority))
    throw new UsageError(`--priority wants high, normal, low or a whole number, not ${JSON.stringify(priority)}`);
  const file = positionals[0] ?? '-';
  const tasks = taskLines(file === '-' ? await readStdin() : await readFile(file, 'utf8'), file);
  const mount = mountPath(v.mount as string | undefined);
  await checkMount(mount);

  const name = (v.name as string | undefined) ?? (file === '-' ? undefined : basename(file));
  const job = await CloneHandle.open(join(mount, 'jobs')).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? new Error(`the node at ${mount} has no scheduler (no jobs/)`) : err;
  });
  try {
    if (name !== undefined) await job.ctl(`name ${quote(name)}`);
    if (priority !== undefined) await job.ctl(`priority ${priority}`);
    await job.write('tasks', tasks.join('\n') + '\n');
    await job.ctl('close');
  } catch (err) {
    await job.ctl('wipe').catch(() => undefined); // nothing half made stays behind
    throw err;
  } finally {
    await job.close();
  }
  if (!v.wait) {
    process.stdout.write(`${job.id}\n`);
    return 0;
  }
  process.stderr.write(`taskfs submit: job ${job.id}, ${tasks.length} tasks\n`);
  return waitFor(job.dir, job.id, tasks.length);
});

/** The tasks of a file: its lines but blank ones and # comments, each checked to be Plan 9 quoted. */
export function taskLines(text: string, file: string): string[] {
  const tasks: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    try {
      tokenize(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: ${(err as Error).message}`);
    }
    tasks.push(line);
  }
  if (tasks.length === 0) throw new Error(`no tasks in ${file === '-' ? 'stdin' : file}`);
  return tasks;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString();
}

/**
 * Until the job's `wait` ends (the job is complete): its stdout and stderr
 * pass through, each wait line moves the progress. Exit 1 if a task failed.
 * Ctrl-C leaves the job to the scheduler.
 */
async function waitFor(dir: string, id: string, total: number): Promise<number> {
  const progress = new Progress(total, process.stderr);
  process.once('SIGINT', () => {
    progress.done();
    process.stderr.write(`taskfs submit: job ${id} goes on (taskfs jobs)\n`);
    process.exit(130);
  });
  const last = new Map<number, string>(); // a retried task ends more than once: its last word counts
  const splitter = new LineSplitter();
  const take = (ls: string[]) => {
    for (const w of lines(ls.join('\n'), parseTaskWait)) last.set(w.id, w.status);
    progress.update(last.size, [...last.values()].filter((s) => s !== '').length);
  };
  const show = (out: NodeJS.WriteStream) => (d: Buffer) => progress.around(() => put(out, d));
  try {
    await Promise.all([
      follow(join(dir, 'wait'), (d) => take(splitter.push(d))).then(() => take(splitter.end())),
      follow(join(dir, 'stdout'), show(process.stdout)),
      follow(join(dir, 'stderr'), show(process.stderr)),
    ]);
  } finally {
    progress.done();
  }
  return [...last.values()].some((s) => s !== '') ? 1 : 0;
}
