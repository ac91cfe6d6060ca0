/**
 * `taskfs run` against real mounts, as a user runs it from a shell:
 * labels, folding, the exit status, Ctrl-C, a reader that goes away, bad
 * input (README "taskfs run"), and labels by node on a tree.
 */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Daemon,
  pidsMatching,
  run,
  sh,
  startMount,
  startServe,
  stopAll,
  taskfsBin,
  until,
} from '../helpers/daemon.js';
import { type BadCommand, expectOneLineFailures } from '../helpers/bad-commands.js';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';

const tag = `${process.pid}${Date.now() % 100000}`; // tells our processes from other suites'

/** Sessions left in a mount: numbered directories in its root. */
async function sessions(mnt: string): Promise<string[]> {
  return (await run(`ls ${mnt}`)).split('\n').filter((n) => /^\d+$/.test(n));
}

describe.skipIf(fuseMissing)('taskfs run on one node', () => {
  let d: Daemon;
  let t: string;
  beforeAll(async () => {
    requirePrograms('hostname', 'tmux');
    d = await startMount(['--slots', '4']);
    t = `${taskfsBin} run -m ${d.mnt}`;
  });
  afterAll(stopAll);

  it('--label: one line per leaf behind its rank', async () => {
    const out = await run(`${t} -n 4 --label hostname`);
    const lines = out.split('\n').filter(Boolean).sort();
    expect(lines).toEqual([0, 1, 2, 3].map((r) => `${r}: ${hostname()}`));
    expect(await sessions(d.mnt)).toEqual([]); // wiped
  });

  it('--fold: the hostname once, under ranks 0-3', async () => {
    const out = await run(`${t} -n 4 --fold hostname`);
    expect(out).toBe(`----------------\n0-3\n----------------\n${hostname()}\n`);
  });

  it('--fold groups distinct outputs by the ranks that gave them', async () => {
    const out = await run(`${t} -n 4 --fold sh -c 'echo $((TASKFS_RANK % 2))'`);
    expect(out).toBe('----------------\n0,2\n----------------\n0\n----------------\n1,3\n----------------\n1\n');
  });

  it('plain: every leaf output as it comes, stderr on stderr; TASKFS_MOUNT names the mount', async () => {
    const r = await sh(`${taskfsBin} run -n 3 sh -c 'echo out $TASKFS_RANK; echo err $TASKFS_RANK >&2'`, {
      env: { TASKFS_MOUNT: d.mnt },
    });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['out 0', 'out 1', 'out 2']);
    expect(r.stderr.split('\n').filter(Boolean).sort()).toEqual(['err 0', 'err 1', 'err 2']);
  });

  it('--label keeps stderr on stderr, labelled', async () => {
    const r = await sh(`${t} -n 2 --label sh -c 'echo err >&2'`);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean).sort()).toEqual(['0: err', '1: err']);
  });

  it('a piped stdin reaches every leaf, then EOF; a terminal gives the leaves EOF at once', async () => {
    const out = await run(`printf 'hello\\nworld\\n' | ${t} -n 2 --label tr a-z A-Z`);
    expect(out.split('\n').filter(Boolean).sort()).toEqual(['0: HELLO', '0: WORLD', '1: HELLO', '1: WORLD']);
    expect(await run(`${t} -n 2 cat < /dev/null`)).toBe('');
    const tmux = `tmux -L taskfs-run-${tag} -f /dev/null`;
    try {
      await run(`${tmux} new-session -d -x 80 -y 10 '${t} -n 2 --label sh -c "cat; echo done"; sleep 60'`);
      const screen = await until(async () => {
        const s = await run(`${tmux} capture-pane -p`);
        return /1: done/.test(s) && s;
      }, 30_000);
      expect(screen.split('\n').filter(Boolean).sort()).toEqual(['0: done', '1: done']);
    } finally {
      await sh(`${tmux} kill-server`);
    }
  });

  it('exits with the highest status of the leaves', async () => {
    expect((await sh(`${t} -n 3 sh -c 'exit $TASKFS_RANK'`)).code).toBe(2);
    expect((await sh(`${t} -n 2 sh -c 'kill -9 $$'`)).code).toBe(128 + 9);
    expect((await sh(`${t} -n 2 true`)).code).toBe(0);
  });

  it('--where adds the os and machine to res', async () => {
    const kind = (await run('echo $(uname -s)/$(uname -m)')).trim();
    expect(await run(`${t} -n 2 --where ${kind} --fold uname -sm`)).toMatch(/^-+\n0-1\n-+\n/);
    expect(await run(`${t} --where '*/${kind.split('/')[1]}' true`)).toBe('');
  });

  it('SIGINT kills the leaves, wipes the session and exits 130', async () => {
    const marker = `100.${tag}`;
    const child = spawn(taskfsBin, ['run', '-m', d.mnt, '-n', '2', 'sleep', marker], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 2);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(await pidsMatching(`^sleep ${marker}$`)).toEqual([]);
      expect(await sessions(d.mnt)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a second SIGINT leaves at once, and the node still kills the leaves', async () => {
    const marker = `'trap "" TERM; sleep 100.${tag}1'`;
    const child = spawn(taskfsBin, ['run', '-m', d.mnt, '-n', '2', 'sh', '-c', marker.slice(1, -1)], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const sleeps = () => pidsMatching(`^sleep 100.${tag}1$`);
    try {
      await until(async () => (await sleeps()).length === 2);
      child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      // The closed clone handle released the leaves: SIGTERM is ignored, SIGKILL follows.
      await until(async () => (await sleeps()).length === 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a reader that goes away (| head -1) kills the leaves: exit 141', async () => {
    const child = spawn(taskfsBin, ['run', '-m', d.mnt, '-n', '2', 'yes', tag], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const first = await new Promise<string>((r) => child.stdout!.once('data', (b: Buffer) => r(b.toString())));
      expect(first.split('\n')[0]).toBe(tag);
      child.stdout!.destroy(); // as head does once it has its line
      expect(await exited).toBe(141);
      await until(async () => (await pidsMatching(`^yes ${tag}$`)).length === 0);
      expect(await sessions(d.mnt)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('bad input: one clear line and a non-zero exit', async () => {
    const cases: BadCommand[] = [
      [`${taskfsBin} run -m ${join(d.dir, 'none')} hostname`, 1, /no taskfs mount at .*none/],
      [`${t} -n 0 hostname`, 2, /-n wants a whole number >= 1, not "0"/],
      [`${t} --bogus hostname`, 2, /unknown option --bogus/],
      [`${t} -n 2 no-such-command-${tag}`, 127, new RegExp(`no-such-command-${tag}: command not found`)],
      [`${t} -n 2 --label --fold hostname`, 2, /--label and --fold do not mix/],
      [`${t}`, 2, /no command given/],
      [`${t} --where Plan9 hostname`, 1, /cannot reserve 1 leaves: .*Plan9/],
    ];
    await expectOneLineFailures(cases, { quietStdout: true });
    expect(await sessions(d.mnt)).toEqual([]);
  });
});

describe.skipIf(fuseMissing)('taskfs run on a tree', () => {
  afterAll(stopAll);

  it('--label names the node of each leaf, down the tree; output of all leaves comes back', async () => {
    const g = await startServe(['--slots', '2']);
    const a = await startServe(['--remote', g.addr]); // a middle node: its leaves go to g
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const childNames = async (ns: string) =>
      (await run(`cat ${ns}`))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[2]!);
    const [na, nb] = await childNames(`${root.mnt}/ns`);
    const [ng] = await childNames(`${root.mnt}/nodes/${na}/ns`);
    const out = await run(`${taskfsBin} run -m ${root.mnt} -n 4 --label sh -c 'echo $TASKFS_RANK'`);
    const lines = out.split('\n').filter(Boolean).sort();
    // ranks 0-1 on g below a, 2-3 on b: `RANK NODE: output`
    expect(lines).toEqual([`0 ${na}/${ng}: 0`, `1 ${na}/${ng}: 1`, `2 ${nb}: 2`, `3 ${nb}: 3`]);
    expect(await sessions(root.mnt)).toEqual([]);
  });

  it('a leaf whose node is lost counts as failure: exit 255, the other leaves run on', async () => {
    const a = await startServe(['--slots', '1']);
    const b = await startServe(['--slots', '1']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const marker = `100.${tag}2`;
    const child = spawn(
      taskfsBin,
      ['run', '-m', root.mnt, '-n', '2', '--label', 'sh', '-c', `sleep ${marker}; echo ended`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const sleeps = () => pidsMatching(`^sleep ${marker}$`);
    try {
      await until(async () => (await sleeps()).length === 2, 30_000);
      b.proc.kill('SIGKILL'); // its process server kills its leaf
      const [survivor] = await until(async () => {
        const left = await sleeps();
        return left.length === 1 && left;
      }, 30_000);
      process.kill(survivor!, 'SIGTERM'); // the leaf on a goes on to its end
      expect(await exited).toBe(255);
      expect(out).toMatch(/^0 \S+: ended$/m); // rank 0, on the node that stayed, ran to its end
      expect(await sessions(root.mnt)).toEqual([]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
