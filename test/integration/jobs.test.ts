/**
 * Jobs through a real FUSE mount, driven by sh (README "Jobs"): a bag of
 * tasks on the local slots, priority, stop and start, and a daemon killed
 * with SIGKILL and started again on its workdir.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { run, sh, startMount, stopAll, until, type Daemon } from '../helpers/daemon.js';
import { newJob, waitLines } from '../helpers/jobs.js';

describe.skipIf(fuseMissing)('jobs on the local slots', { timeout: 180_000 }, () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startMount(['--slots', '2']);
  });
  afterAll(stopAll);

  it('a bag of 200 tasks: wait, status, stdout, out/ID, jobs/status', async () => {
    const n = await newJob(d.mnt);
    await run(`seq 0 199 | sed "s/.*/sh -c 'echo task-&'/" > jobs/${n}/tasks && echo close > jobs/${n}/ctl`, {
      cwd: d.mnt,
    });
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 120_000 }));
    expect(wait).toHaveLength(200);
    expect(new Set(wait.map((w) => w.id)).size).toBe(200);
    expect(wait.every((w) => w.status === "''")).toBe(true);
    const status = (await run(`cat jobs/${n}/status`, { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(status).toHaveLength(200);
    expect(status.every((l) => / Done \S+ 1 ''$/.test(l))).toBe(true);
    const out = (await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(out.sort()).toEqual(Array.from({ length: 200 }, (_, i) => `task-${i}`).sort());
    expect(await run(`cat jobs/${n}/out/17`, { cwd: d.mnt })).toBe('task-17\n');
    expect(await run(`cat jobs/status`, { cwd: d.mnt })).toContain(`${n} Complete 0 0 0 200 0 ''`);
    expect(await run(`cat jobs/nodes`, { cwd: d.mnt })).toMatch(/^\S+ Up 2 0 'os=Linux machine=\S+'\n/);
  });

  it('TASKFS_JOB, TASKFS_TASK and TASKFS_TRY', async () => {
    const n = await newJob(d.mnt, 'retries 1\\n');
    await run(
      `echo "sh -c 'echo \\$TASKFS_JOB \\$TASKFS_TASK \\$TASKFS_TRY; test \\$TASKFS_TRY = 2'" > jobs/${n}/tasks; echo close > jobs/${n}/ctl`,
      { cwd: d.mnt },
    );
    await run(`cat jobs/${n}/wait`, { cwd: d.mnt });
    expect(await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).toBe(`${n} 0 2\n`);
    expect(await run(`cat jobs/${n}/status`, { cwd: d.mnt })).toMatch(/^0 Done \S+ 2 ''\n$/);
  });

  it('a high job added later runs as soon as a slot frees, before the rest of the low job', async () => {
    const low = await newJob(d.mnt, 'priority low\\nname lows\\n');
    await run(`for i in $(seq 16); do echo 'sleep 0.2'; done > jobs/${low}/tasks; echo close > jobs/${low}/ctl`, {
      cwd: d.mnt,
    });
    await new Promise((r) => setTimeout(r, 500));
    const high = await newJob(d.mnt, 'priority high\\n');
    await run(`printf 'true\\ntrue\\ntrue\\n' > jobs/${high}/tasks`, { cwd: d.mnt });
    const added = Date.now(); // the high tasks are queued
    await run(`echo close > jobs/${high}/ctl`, { cwd: d.mnt });
    const highWait = waitLines(await run(`cat jobs/${high}/wait`, { cwd: d.mnt }));
    const lowWait = waitLines(await run(`cat jobs/${low}/wait`, { cwd: d.mnt, timeout: 60_000 }));
    const lastHigh = Math.max(...highWait.map((w) => w.start));
    const lowAfter = lowWait.filter((w) => w.start >= added);
    expect(highWait).toHaveLength(3);
    expect(lowAfter.length).toBeGreaterThan(3); // most of the low job was still queued
    for (const w of lowAfter) expect(w.start).toBeGreaterThanOrEqual(lastHigh);
    expect(await run('cat jobs/status', { cwd: d.mnt })).toContain(`${low} Complete -10 0 0 16 0 lows`);
  });

  it('stop holds queued tasks, start lets them go', async () => {
    const n = await newJob(d.mnt, 'stop\\n');
    await run(`printf 'true\\ntrue\\ntrue\\n' > jobs/${n}/tasks; echo close > jobs/${n}/ctl`, { cwd: d.mnt });
    await new Promise((r) => setTimeout(r, 700));
    const held = await run(`cat jobs/${n}/status`, { cwd: d.mnt });
    expect(held).toBe(
      "0 Queued - 0 'waiting: job stopped'\n1 Queued - 0 'waiting: job stopped'\n2 Queued - 0 'waiting: job stopped'\n",
    );
    expect(await run('cat jobs/status', { cwd: d.mnt })).toMatch(new RegExp(`^${n} Stopped 0 3 0 0 0 ''$`, 'm'));
    await run(`echo start > jobs/${n}/ctl`, { cwd: d.mnt });
    expect(waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt }))).toHaveLength(3);
  });

  it('timeout kills and fails a task; cancel kills the running and drops the queued; wipe removes the job', async () => {
    const t = await newJob(d.mnt, 'timeout 1\\n');
    await run(`printf 'sleep 30\\ntrue\\n' > jobs/${t}/tasks; echo close > jobs/${t}/ctl`, { cwd: d.mnt });
    const tw = waitLines(await run(`cat jobs/${t}/wait`, { cwd: d.mnt, timeout: 30_000 }));
    expect(tw.find((w) => w.id === 0)).toMatchObject({ status: 'timeout' });
    expect(await run(`cat jobs/${t}/status`, { cwd: d.mnt })).toMatch(/^0 Failed \S+ 1 timeout\n1 Done /);
    const c = await newJob(d.mnt, 'name doomed\\n');
    await run(`for i in 1 2 3 4 5; do echo 'sleep 30'; done > jobs/${c}/tasks`, { cwd: d.mnt });
    await until(async () => / Running /.test(await run(`cat jobs/${c}/status`, { cwd: d.mnt })));
    await run(`echo cancel > jobs/${c}/ctl`, { cwd: d.mnt });
    const cw = waitLines(await run(`cat jobs/${c}/wait`, { cwd: d.mnt, timeout: 30_000 }));
    expect(cw).toHaveLength(5);
    expect(new Set(cw.map((w) => w.status))).toEqual(new Set(['killed', 'cancelled']));
    expect(await run('cat jobs/status', { cwd: d.mnt })).toMatch(new RegExp(`^${c} Cancelled 0 0 0 0 5 doomed$`, 'm'));
    await run(`echo wipe > jobs/${c}/ctl`, { cwd: d.mnt });
    expect(await run('ls jobs', { cwd: d.mnt })).not.toMatch(new RegExp(`^${c}$`, 'm'));
  });

  it('sessions and tasks share the slots: a busy slot is busy for both', async () => {
    // A session holding both slots: the job's task waits until it lets go.
    const script = `
      exec 3<>clone; read -r s <&3 || true
      echo 'res 2' >&3
      echo 'exec sleep 1' >&3
      n=$(cat jobs/clone); echo true > jobs/$n/tasks; echo close > jobs/$n/ctl
      sleep 0.5; cat jobs/$n/status; cat $s/wait >/dev/null; exec 3>&-; cat jobs/$n/wait`;
    const out = await run(script, { cwd: d.mnt });
    expect(out).toMatch(/^0 Queued - 0 'waiting: queued'\n0 \S+ \d+ \d+ ''\n$/);
  });
});

describe.skipIf(fuseMissing)('a crash', { timeout: 180_000 }, () => {
  afterAll(stopAll);

  it('kill -9 with 300 tasks queued: after a restart on the workdir all end Done, none twice', async () => {
    let d = await startMount(['--slots', '2']);
    const n = await newJob(d.mnt);
    await run(
      `seq 0 299 | sed "s/.*/sh -c 'echo out-\\$TASKFS_TASK; sleep 0.01'/" > jobs/${n}/tasks; echo close > jobs/${n}/ctl`,
      { cwd: d.mnt },
    );
    await new Promise((r) => setTimeout(r, 2000));
    const before = waitLines((await sh(`timeout 1 cat jobs/${n}/wait`, { cwd: d.mnt })).stdout).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(300);
    d.proc.kill('SIGKILL');
    await d.exited;
    d = await startMount(['--slots', '2'], { dir: d.dir, mnt: d.mnt });
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 120_000 }));
    expect(wait).toHaveLength(300);
    expect(new Set(wait.map((w) => w.id)).size).toBe(300);
    const status = (await run(`cat jobs/${n}/status`, { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(status.filter((l) => / Done /.test(l))).toHaveLength(300);
    const outs = await run(`for i in $(seq 0 299); do cat jobs/${n}/out/$i; done`, { cwd: d.mnt });
    expect(outs).toBe(Array.from({ length: 300 }, (_, i) => `out-${i}\n`).join(''));
    const stdout = (await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(stdout).toHaveLength(300);
    await until(async () => (await sh('cat jobs/status', { cwd: d.mnt })).stdout.includes(`${n} Complete`));
  }, 240_000);
});
