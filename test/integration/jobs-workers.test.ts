/**
 * Where tasks run besides the local slots (README "Jobs: where tasks
 * run"): joined workers (`taskfs join`, real processes), `need`, a worker
 * killed in the middle of a job, and scripts/worker.sh on the pull door.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { repo, run, sh, startMount, startServe, stopAll, taskfsBin, until, type Daemon } from '../helpers/daemon.js';
import { newJob, waitLines } from '../helpers/jobs.js';

const started: ChildProcess[] = [];
const dirs: string[] = [];

async function join_(addr: string, name: string, args: string[] = []): Promise<ChildProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'taskfs-join-'));
  dirs.push(dir);
  const p = spawn(taskfsBin, ['join', addr, '--name', name, '--workdir', dir, ...args], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  started.push(p);
  return p;
}

/** worker.sh in its own process group, so that the test can kill it and its task at once. */
function worker(mnt: string, name: string): ChildProcess {
  const p = spawn('sh', [join(repo, 'scripts/worker.sh'), mnt], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, WORKER_NAME: name },
  });
  started.push(p);
  return p;
}

function killGroup(p: ChildProcess): void {
  try {
    process.kill(-p.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

afterEach(async () => {
  for (const p of started.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      if (p.spawnargs[0] === 'sh') killGroup(p);
    }
  }
  await stopAll();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(stopAll);

const nodes = (d: Daemon) => sh('cat jobs/nodes', { cwd: d.mnt }).then((r) => r.stdout);

async function listening(args: string[]): Promise<{ d: Daemon; addr: string }> {
  const d = await startMount(['--listen', 'tcp!127.0.0.1!0', ...args]);
  return { d, addr: /listening on (\S+?)\)/.exec(d.stderr())![1]! };
}

describe.skipIf(fuseMissing)('child nodes', { timeout: 180_000 }, () => {
  it('a node with --slots 0 runs its tasks on its children, each one a session of the child', async () => {
    const c1 = await startServe(['--slots', '2', '--name', 'c1']);
    const c2 = await startServe(['--slots', '2', '--name', 'c2']);
    const d = await startMount(['--slots', '0', '--remote', c1.addr, '--remote', c2.addr]);
    await until(async () => /Up 2 0/.test(await nodes(d)));
    const n = await newJob(d.mnt);
    await run(`echo 'sleep 2' > jobs/${n}/tasks`, { cwd: d.mnt });
    // The sleeping task is a leaf session in one child's own root.
    await until(async () => /^0$/m.test((await sh('ls nodes/*/', { cwd: d.mnt })).stdout));
    await run(
      `for i in 1 2 3 4 5 6 7; do echo 'sh -c "echo $TASKFS_TASK"' | tr '"' "'"; done > jobs/${n}/tasks; echo close > jobs/${n}/ctl`,
      { cwd: d.mnt },
    );
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 30_000 }));
    expect(wait).toHaveLength(8);
    expect(new Set(wait.map((w) => w.node))).toEqual(new Set(nodesOf(await nodes(d))));
    expect((await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).split('\n').filter(Boolean).sort()).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
    ]);
  });
});

function nodesOf(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0]!);
}

describe.skipIf(fuseMissing)('joined workers', { timeout: 180_000 }, () => {
  it('need gpu=yes waits, saying why, until a worker with gpu=yes joins; then it runs only there', async () => {
    const { d, addr } = await listening(['--slots', '1']);
    const n = await newJob(d.mnt, 'need gpu=yes\\n');
    await run(`printf 'true\\ntrue\\n' > jobs/${n}/tasks; echo close > jobs/${n}/ctl`, { cwd: d.mnt });
    const plain = await newJob(d.mnt);
    await run(`echo true > jobs/${plain}/tasks; echo close > jobs/${plain}/ctl`, { cwd: d.mnt });
    expect(waitLines(await run(`cat jobs/${plain}/wait`, { cwd: d.mnt }))).toHaveLength(1);
    expect(await run(`cat jobs/${n}/status`, { cwd: d.mnt })).toBe(
      "0 Queued - 0 'waiting: no worker with gpu=yes'\n1 Queued - 0 'waiting: no worker with gpu=yes'\n",
    );
    await join_(addr, 'g1', ['--slots', '2', '--attr', 'gpu=yes']);
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 30_000 }));
    expect(wait.map((w) => w.node)).toEqual(['g1', 'g1']);
    expect(await nodes(d)).toMatch(/^g1 Up 2 0 'gpu=yes os=Linux machine=\S+'$/m);
    expect(await run('cat ns', { cwd: d.mnt })).toMatch(/^mount join!\S+ g1$/m);
  });

  it('a worker killed mid-job: its tasks run again elsewhere (TASKFS_TRY=2), it shows Lost; res 2 runs on joined workers', async () => {
    const { d, addr } = await listening(['--slots', '0']);
    const w1 = await join_(addr, 'w1', ['--slots', '2']);
    await join_(addr, 'w2', ['--slots', '2']);
    await until(async () => /w1 Up 2/.test(await nodes(d)) && /w2 Up 2/.test(await nodes(d)), 20_000);
    const n = await newJob(d.mnt);
    await run(
      `for i in 1 2 3 4 5 6 7 8; do echo "sh -c 'echo try-\\$TASKFS_TRY; sleep 1'"; done > jobs/${n}/tasks; echo close > jobs/${n}/ctl`,
      { cwd: d.mnt },
    );
    await until(async () => / Running w1 /.test(await run(`cat jobs/${n}/status`, { cwd: d.mnt })));
    w1.kill('SIGKILL');
    const killed = Date.now();
    await until(async () => /^w1 Lost /m.test(await nodes(d)), 10_000);
    expect(Date.now() - killed).toBeLessThan(10_000);
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 60_000 }));
    expect(wait).toHaveLength(8);
    expect(wait.every((w) => w.status === "''")).toBe(true);
    const status = await run(`cat jobs/${n}/status`, { cwd: d.mnt });
    expect(status.split('\n').filter((l) => / Done /.test(l))).toHaveLength(8);
    expect(status).toMatch(/ Done w2 2 ''/);
    expect(await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).toContain('try-2\n');
    // Sessions use joined workers too.
    const out = await run(
      `exec 3<>clone; read -r s <&3 || true; echo 'res 2' >&3; echo 'exec echo hi' >&3; cat $s/wait >/dev/null; cat $s/stdout; ls nodes`,
      {
        cwd: d.mnt,
      },
    );
    expect(out).toBe('hi\nhi\nw2\n');
  });
});

describe.skipIf(fuseMissing)('a joined worker when its link drops', { timeout: 180_000 }, () => {
  it('joins again, with backoff, once the node is back; its task runs again there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskfs-test-'));
    const addr = `unix!${dir}/sock`;
    let d = await startMount(['--slots', '0', '--listen', addr], { dir });
    await join_(addr, 'r1', ['--slots', '1']);
    await until(async () => /^r1 Up 1 /m.test(await nodes(d)), 20_000);
    const n = await newJob(d.mnt);
    await run(`echo "sh -c 'echo try-\\$TASKFS_TRY; sleep 2'" > jobs/${n}/tasks; echo close > jobs/${n}/ctl`, {
      cwd: d.mnt,
    });
    await until(async () => / Running r1 /.test(await run(`cat jobs/${n}/status`, { cwd: d.mnt })));
    await d.stop();
    d = await startMount(['--slots', '0', '--listen', addr], { dir: d.dir, mnt: d.mnt });
    await until(async () => /^r1 Up 1 /m.test(await nodes(d)), 30_000);
    expect(waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 60_000 }))).toMatchObject([
      { id: 0, node: 'r1', status: "''" },
    ]);
    expect(await run(`cat jobs/${n}/stdout`, { cwd: d.mnt })).toBe('try-2\n');
  });
});

describe.skipIf(fuseMissing)('scripts/worker.sh on the pull door', { timeout: 180_000 }, () => {
  it('pulls and runs 30 tasks; killed in the middle of a task, that task goes back to the queue', async () => {
    const d = await startMount(['--slots', '0']);
    const n = await newJob(d.mnt);
    await run(`seq 0 29 | sed "s/.*/sh -c 'echo w-\\$TASKFS_TASK'/" > jobs/${n}/tasks; echo close > jobs/${n}/ctl`, {
      cwd: d.mnt,
    });
    worker(d.mnt, 'sh1');
    const wait = waitLines(await run(`cat jobs/${n}/wait`, { cwd: d.mnt, timeout: 60_000 }));
    expect(wait).toHaveLength(30);
    expect(wait.every((w) => w.node === 'sh1' && w.status === "''")).toBe(true);
    expect(await run(`cat jobs/${n}/out/29`, { cwd: d.mnt })).toBe('w-29\n');
    expect(await nodes(d)).toMatch(/^sh1 Up 1 0 ''$/m);

    const m = await newJob(d.mnt);
    await run(
      `echo "sh -c 'echo try-\\$TASKFS_TRY; [ \\$TASKFS_TRY = 2 ] || sleep 30'" > jobs/${m}/tasks; echo close > jobs/${m}/ctl`,
      { cwd: d.mnt },
    );
    const first = started.at(-1)!;
    await until(async () => /^0 Running sh1 1 /.test(await run(`cat jobs/${m}/status`, { cwd: d.mnt })));
    killGroup(first);
    await until(async () => /^0 Queued sh1 1 /.test(await run(`cat jobs/${m}/status`, { cwd: d.mnt })));
    expect(await nodes(d)).not.toMatch(/^sh1 /m);
    worker(d.mnt, 'sh2');
    expect(waitLines(await run(`cat jobs/${m}/wait`, { cwd: d.mnt, timeout: 30_000 }))).toMatchObject([
      { id: 0, node: 'sh2', status: "''" },
    ]);
    expect(await run(`cat jobs/${m}/stdout`, { cwd: d.mnt })).toBe('try-2\n');
  });
});
