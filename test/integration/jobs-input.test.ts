/**
 * Jobs and bad input (README "Jobs: errors"), one row each: a clear errno,
 * the reason in err, nothing accepted lost, and the job and node go on.
 * And the task generator: lazy, bounded, told of every end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { writeFile } from 'node:fs/promises';
import { peakRss, run, sh, startMount, stopAll, until, type Daemon } from '../helpers/daemon.js';
import { newJob, waitLines } from '../helpers/jobs.js';

describe.skipIf(fuseMissing)('jobs: bad input', { timeout: 180_000 }, () => {
  let d: Daemon;
  let n: string;
  beforeAll(async () => {
    d = await startMount(['--slots', '2']);
    n = await newJob(d.mnt);
    await run(`echo "sh -c 'echo kept'" > jobs/${n}/tasks`, { cwd: d.mnt });
  });
  afterAll(stopAll);

  // dash's own echo and printf say "I/O error" for every failed write: coreutils' say which.
  const fails = async (script: string, errno: RegExp, errFile: string, reason: RegExp) => {
    const r = await sh(script.replace(/\becho /g, '/bin/echo ').replace(/\bprintf /g, '/usr/bin/printf '), {
      cwd: d.mnt,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(errno);
    expect(await run(`cat ${errFile}`, { cwd: d.mnt })).toMatch(reason);
  };

  it.each([
    ['an unknown verb', 'bogus 1', /unknown job verb: bogus/],
    ['a bad priority', 'priority urgent', /priority: want high, normal, low or a whole number/],
    ['need without =', 'need gpu', /need: want KEY=VALUE/],
    ['retries that are not a number', 'retries many', /retries: not a whole number/],
  ])('%s', async (_, line, reason) => {
    await fails(`echo '${line}' > jobs/${n}/ctl`, /Invalid argument/, `jobs/${n}/err`, reason);
  });

  it('tasks that do not parse: nothing of that write is taken', async () => {
    await fails(
      `printf "true\\nsh -c 'oops\\n" > jobs/${n}/tasks`,
      /Invalid argument/,
      `jobs/${n}/err`,
      /line 2: unbalanced quote.*nothing taken/,
    );
    expect(await run(`cat jobs/${n}/tasks`, { cwd: d.mnt })).toBe(`0 sh -c 'echo kept'\n`);
  });

  it('a task line past 64 KiB', async () => {
    await fails(`head -c 70000 /dev/zero | tr '\\0' x > jobs/${n}/tasks`, /too long/, `jobs/${n}/err`, /longer than/);
  });

  it('delnode of an unknown worker', async () => {
    await fails('echo delnode nosuch > jobs/ctl', /No such file/, 'jobs/err', /delnode: no worker nosuch/);
  });

  it('a puller that writes garbage, then a result for a task it was not given', async () => {
    await fails('exec 3<>jobs/task; echo garbage >&3', /Invalid argument/, 'jobs/err', /bad line "garbage"/);
    await fails(
      'exec 3<>jobs/task; echo result 9 9 0 0 0 >&3',
      /Invalid argument/,
      'jobs/err',
      /result for task 9 9, which this worker was not given/,
    );
  });

  it('a write to a closed job, then to a wiped one', async () => {
    const m = await newJob(d.mnt);
    await run(`echo close > jobs/${m}/ctl`, { cwd: d.mnt });
    await fails(`echo true > jobs/${m}/tasks`, /Operation not permitted/, `jobs/${m}/err`, /job \d+ is closed/);
    const w = await newJob(d.mnt);
    const r = await sh(`exec 3>jobs/${w}/tasks; echo wipe > jobs/${w}/ctl; /bin/echo true >&3`, { cwd: d.mnt });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No such file/);
    expect((await sh(`ls jobs/${w}`, { cwd: d.mnt })).code).not.toBe(0);
    expect(await run('cat jobs/status', { cwd: d.mnt })).not.toMatch(new RegExp(`^${w} `, 'm'));
  });

  it('a generator that dies, and one that prints a 1 MB line', async () => {
    const a = await newJob(d.mnt);
    await run(`echo "gen sh -c 'echo true; echo true; exit 3'" > jobs/${a}/ctl`, { cwd: d.mnt });
    expect(waitLines(await run(`cat jobs/${a}/wait`, { cwd: d.mnt }))).toHaveLength(2);
    expect(await run(`cat jobs/${a}/err`, { cwd: d.mnt })).toMatch(/gen: sh exited with status 3/);
    const b = await newJob(d.mnt);
    await writeFile(`${d.dir}/gen-long`, "echo true; head -c 1048576 /dev/zero | tr '\\0' x; echo; echo true\n");
    await run(`echo "gen sh ${d.dir}/gen-long" > jobs/${b}/ctl`, { cwd: d.mnt });
    expect(waitLines(await run(`cat jobs/${b}/wait`, { cwd: d.mnt }))).toHaveLength(2);
    expect(await run(`cat jobs/${b}/err`, { cwd: d.mnt })).toMatch(/gen: line 2 is longer than 65536 bytes: dropped/);
  });

  it('after all that, the first job and the node go on', async () => {
    await run(`echo close > jobs/${n}/ctl`, { cwd: d.mnt });
    expect(waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt }))).toHaveLength(1);
    expect(await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).toBe('kept\n');
  });
});

/** A puller in node: takes each task and answers success at once (no process per task). */
const quickPuller = `
const fs = require('node:fs');
const fd = fs.openSync(process.argv[2] + '/jobs/task', 'r+');
const buf = Buffer.alloc(65536);
for (;;) {
  let n;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, null);
  } catch (err) {
    if (err.code === 'EINTR') continue; // an interrupted read took nothing
    throw err;
  }
  if (n === 0) break;
  const [job, id] = buf.subarray(0, n).toString().split(' ');
  fs.writeSync(fd, 'result ' + job + ' ' + id + ' 0 0 0\\n');
}`;

describe.skipIf(fuseMissing)('jobs: a generator of 10,000 tasks', { timeout: 180_000 }, () => {
  afterAll(stopAll);

  it('is read lazily: the daemon stays small, and the generator hears of every task', async () => {
    const d = await startMount(['--slots', '0']);
    const n = await newJob(d.mnt);
    const report = `${d.dir}/reports`;
    await writeFile(
      `${d.dir}/gen`,
      `i=0; while [ $i -lt 10000 ]; do echo true; i=$((i+1)); done; exec >&-; wc -l > ${report}\n`,
    );
    await writeFile(`${d.dir}/puller.cjs`, quickPuller);
    const puller = sh(`node ${d.dir}/puller.cjs ${d.mnt}`, { timeout: 300_000 });
    await run(`echo "gen sh ${d.dir}/gen" > jobs/${n}/ctl`, { cwd: d.mnt });
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 300_000 }));
    expect(wait).toHaveLength(10_000);
    expect(await run(`cat jobs/status`, { cwd: d.mnt })).toMatch(new RegExp(`^${n} Complete 0 0 0 10000 0`, 'm'));
    expect(await peakRss(d.proc.pid!)).toBeLessThan(150 * 1024 * 1024);
    await until(async () => (await sh(`cat ${report}`)).stdout.trim() === '10000', 20_000);
    await d.stop();
    await puller;
  }, 300_000);
});
