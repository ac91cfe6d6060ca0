/**
 * Slurm as a source of leaves (README "Slurm"), against a real private
 * cluster (test/helpers/slurm.ts: munged, slurmctld, slurmd for n1 and n2):
 * the partition's capacity, `res` as an allocation that squeue shows while
 * it is held and that `wipe` ends, Slurm's refusals as the `err` text, and
 * no allocation outliving a daemon killed outright.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsMatching, sh, startMount, stopAll, taskfsBin, until, type Daemon } from '../helpers/daemon.js';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import { SLURM_PROGRAMS, startSlurm, type SlurmCluster } from '../helpers/slurm.js';

describe.skipIf(fuseMissing)('--slurm PARTITION', () => {
  let cluster: SlurmCluster;
  let state: string;
  /** The environment of taskfs and of every shell here: the private cluster, a private XDG state dir. */
  let env: Record<string, string>;

  beforeAll(async () => {
    requirePrograms(...SLURM_PROGRAMS);
    cluster = await startSlurm();
    // Hosts' nodes get their default workdir under XDG_STATE_HOME: srun passes the environment on.
    state = await mkdtemp(join(tmpdir(), 'taskfs-slurm-state-'));
    env = { ...cluster.env, XDG_STATE_HOME: state };
  });

  afterAll(async () => {
    await stopAll();
    await cluster?.stop();
    if (state) await rm(state, { recursive: true, force: true });
  });

  const mount = (...extra: string[]): Promise<Daemon> =>
    startMount(['--slurm', 'debug', '--slurm-taskfs', taskfsBin, '--slots', '0', ...extra], { env });
  const queue = async () => (await cluster.queue()).trim();

  it('shows the idle CPUs, runs res 2 in an allocation squeue shows, and wipe ends it', async () => {
    const d = await mount();
    const { mnt } = d;
    const sh2 = (script: string) => sh(script, { cwd: mnt, env });
    expect((await sh2('cat status')).stdout).toMatch(/^2 Linux \S+\n$/);
    expect((await sh2('cat ns')).stdout).toBe('mount slurm!debug slurm-debug\n');

    const res = await sh2(
      `n=$(cat clone) && echo $n && echo 'res 2' > $n/ctl && echo "exec sh -c 'echo \\$(hostname) \\$SLURM_JOB_ID \\$SLURMD_NODENAME \\$TASKFS_RANK/\\$TASKFS_SIZE'" > $n/ctl && cat $n/wait >/dev/null && cat $n/stdout && cat $n/topology`,
    );
    expect(res.stderr).toBe('');
    const [n, ...lines] = res.stdout.split('\n');
    // A session spanning the job's two hosts, each host one leaf.
    expect(lines.pop()).toBe('0/0 0/1');
    const held = await queue();
    expect(held).toMatch(/^\d+ taskfs RUNNING$/);
    const job = held.split(' ')[0];
    // Both leaves ran inside that job, one on each of its nodes, ranked in topology order.
    expect(lines.sort()).toEqual([`${hostname()} ${job} n1 0/2`, `${hostname()} ${job} n2 1/2`]);
    expect((await sh2(`cat ${n}/status`)).stdout).toMatch(/^(cmd\/\d+ \d+ Done \S+ sh\n){2}$/);
    expect((await sh2('cat nodes/slurm-debug/allocations')).stdout).toBe(`${job} n1:1 n2:1\n`);
    expect((await sh2('ls nodes/slurm-debug')).stdout.split('\n')).toEqual(
      expect.arrayContaining([`${job}.n1`, `${job}.n2`, 'partition']),
    );
    // While the job holds both CPUs, the partition has none idle.
    await until(async () => (await sh2('cat status')).stdout.startsWith('0 '), 5000);

    expect((await sh2(`echo wipe > ${n}/ctl`)).code).toBe(0);
    await until(async () => (await queue()) === '', 15_000, 250);
    await until(async () => (await pidsMatching(/serve --stdio --slots 1 --name n\d/)).length === 0, 15_000, 250);
    expect((await sh2('cat nodes/slurm-debug/allocations')).stdout).toBe('');

    // One task is one host, whose session is bound as it is; stopping the node ends its allocation.
    const one = await sh2(
      `n=$(cat clone) && echo 'res 1' > $n/ctl && echo "exec sh -c 'echo \\$SLURM_JOB_ID'" > $n/ctl && cat $n/wait >/dev/null && cat $n/stdout $n/topology`,
    );
    expect(one.stderr).toBe('');
    const [alone] = (await queue()).split(' ');
    expect(one.stdout).toBe(`${alone}\n0`);
    // A request Slurm must queue (2 CPUs, 1 idle) waits in the res write...
    const queued = sh2(`n=$(cat clone) && echo 'res 2' > $n/ctl`);
    await until(async () => / PENDING$/m.test(await queue()), 15_000, 250);
    // ...and stopping the node withdraws it and ends the allocation held.
    expect(await d.stop()).toBe(0);
    expect((await queued).code).not.toBe(0);
    await until(async () => (await queue()) === '', 15_000, 250);
  });

  it("gives Slurm's refusal as the res error, and a bad partition stops the mount", async () => {
    const d = await mount();
    const tooMany = await sh(`n=$(cat clone) && (echo 'res 5' > $n/ctl; echo $?; cat $n/err)`, { cwd: d.mnt, env });
    expect(tooMany.stdout).toMatch(/^1\n.*salloc: .*More processors requested than permitted/);
    expect(await queue()).toBe('');
    const badMount = await sh(`echo 'mount slurm!nosuch other' > ctl`, { cwd: d.mnt, env });
    expect(badMount.code).not.toBe(0);
    await d.stop();

    const bad = await mount('--slurm-option=--bogus');
    const refused = await sh(`n=$(cat clone) && (echo 'res 1' > $n/ctl; cat $n/err)`, { cwd: bad.mnt, env });
    expect(refused.stdout).toMatch(/salloc: unrecognized option '--bogus'/);
    await bad.stop();

    // A partition named in the options (salloc takes the last -p) is Slurm's to refuse, at res.
    const elsewhere = await mount('--slurm-option=--partition=nosuch');
    const noPartition = await sh(`n=$(cat clone) && (echo 'res 1' > $n/ctl; cat $n/err)`, { cwd: elsewhere.mnt, env });
    expect(noPartition.stdout).toMatch(/^slurm: salloc: invalid partition specified: nosuch/);
    await elsewhere.stop();

    // A host without taskfs: srun's complaint names the host, and the allocation is ended.
    const none = await startMount(['--slurm', 'debug', '--slurm-taskfs', '/nonexistent/taskfs', '--slots', '0'], {
      env,
    });
    const missing = await sh(`n=$(cat clone) && (echo 'res 2' > $n/ctl; cat $n/err)`, { cwd: none.mnt, env });
    expect(missing.stdout).toMatch(/^slurm: n[12]: srun: .*\/nonexistent\/taskfs/);
    await until(async () => (await queue()) === '', 15_000, 250);
    await none.stop();

    const dir = await mkdtemp(join(tmpdir(), 'taskfs-slurm-nosuch-'));
    await expect(startMount(['--slurm', 'nosuch', '--slots', '0'], { env, dir })).rejects.toThrow(
      /no partition nosuch \(sinfo knows: debug\)/,
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a job in one allocation held while tasks come, given back when idle or cancelled', async () => {
    const d = await mount();
    const sh2 = (script: string) => sh(script, { cwd: d.mnt, env });
    await until(async () => /^slurm-debug Up 2 0 /m.test((await sh2('cat jobs/nodes')).stdout), 10_000);
    const tasks = join(state, 'tasks');
    await writeFile(tasks, "sh -c 'echo $TASKFS_TASK $SLURM_JOB_ID $SLURMD_NODENAME'\n".repeat(6));
    const done = await sh2(
      `n=$(cat jobs/clone) && echo $n && cat ${tasks} > jobs/$n/tasks && echo close > jobs/$n/ctl && cat jobs/$n/wait >/dev/null && cat jobs/$n/status && cat jobs/$n/stdout`,
    );
    expect(done.stderr).toBe('');
    const [job, ...lines] = done.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `${i} Done slurm-debug 1 ''`));
    const outs = lines.slice(6).map((l) => l.split(' '));
    expect(outs.map((w) => Number(w[0])).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Every task ran in the same allocation, on both of its hosts.
    expect(new Set(outs.map((w) => w[1])).size).toBe(1);
    expect(new Set(outs.map((w) => w[2]))).toEqual(new Set(['n1', 'n2']));
    expect((await sh2(`cat jobs/status`)).stdout).toMatch(new RegExp(`^${job} Complete 0 0 0 6 0 `, 'm'));
    // Idle, the allocation is given back.
    await until(async () => (await queue()) === '', 15_000, 250);

    // Cancel kills the running tasks and ends the allocation.
    const marker = `300.${process.pid}`;
    const started = await sh2(
      `n=$(cat jobs/clone) && echo $n && printf 'sleep ${marker}\n%.0s' 1 2 3 > jobs/$n/tasks && echo close > jobs/$n/ctl`,
    );
    const cancelled = started.stdout.trim();
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 2, 15_000, 250);
    expect(await queue()).toMatch(/^\d+ taskfs RUNNING$/);
    expect((await sh2(`echo cancel > jobs/${cancelled}/ctl`)).code).toBe(0);
    await until(async () => (await queue()) === '', 15_000, 250);
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 15_000, 250);
    expect((await sh2('cat nodes/slurm-debug/allocations')).stdout).toBe('');
    expect((await sh2(`cat jobs/status`)).stdout).toMatch(new RegExp(`^${cancelled} Cancelled `, 'm'));
    await d.stop();
  });

  it('refuses a host whose taskfs is another version', async () => {
    const fake = join(state, 'old-taskfs');
    await writeFile(
      fake,
      '#!/bin/sh\necho "taskfs: node n serving stdin/stdout (1 slots, workdir /tmp, taskfs 0.0.0-old)" >&2\nexec cat >/dev/null\n',
      { mode: 0o755 },
    );
    const d = await startMount(['--slurm', 'debug', '--slurm-taskfs', fake, '--slots', '0'], { env });
    const r = await sh(`n=$(cat clone) && (echo 'res 1' > $n/ctl; cat $n/err)`, { cwd: d.mnt, env });
    expect(r.stdout).toMatch(/^slurm: n[12]: taskfs there is version 0\.0\.0-old, here \S+: install the same version/);
    await until(async () => (await queue()) === '', 15_000, 250);
    await d.stop();
  });

  it('leaves no job in squeue when the daemon is killed outright', async () => {
    const d = await mount();
    const marker = `300.${process.pid}`; // a sleep of our own among the machine's processes
    const r = await sh(`n=$(cat clone) && echo 'res 2' > $n/ctl && echo "exec sleep ${marker}" > $n/ctl`, {
      cwd: d.mnt,
      env,
    });
    expect(r.stderr).toBe('');
    expect(await queue()).toMatch(/^\d+ taskfs RUNNING$/);
    await d.stop('SIGKILL');
    // salloc's stdin closed with the daemon: Slurm takes the allocation back, its steps end.
    await until(async () => (await queue()) === '', 15_000, 250);
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 15_000, 250);
  });
});
