/**
 * `taskfs submit`, `jobs`, `nodes` and `top` against a real mount with its
 * scheduler (README "taskfs submit" ... "taskfs top"): jobs made from files,
 * the tables, the live view read off a private tmux server's screen, and
 * bad input.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, pidsMatching, run, sh, startMount, stopAll, taskfsBin, until } from '../helpers/daemon.js';
import { type BadCommand, expectOneLineFailures } from '../helpers/bad-commands.js';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import { saveScreen } from '../helpers/screens.js';

const tag = `${process.pid}${Date.now() % 100000}`;
const tmux = `tmux -L taskfs-cli-${tag} -f /dev/null`;

describe.skipIf(fuseMissing)('submit, jobs, nodes and top', () => {
  let d: Daemon;
  let file: (name: string, text: string) => Promise<string>;
  beforeAll(async () => {
    requirePrograms('tmux');
    d = await startMount(['--slots', '2', '--name', `cli${tag}`]);
    file = async (name, text) => {
      const path = join(d.dir, name);
      await writeFile(path, text);
      return path;
    };
  });
  afterAll(async () => {
    await sh(`${tmux} kill-server 2>/dev/null`);
    await stopAll();
  });

  it('submit of 5 tasks prints a job number, and they all end Done', async () => {
    const tasks = await file(
      'five',
      '# five tasks\necho task 0\n\n' + [1, 2, 3, 4].map((i) => `echo task ${i}\n`).join(''),
    );
    const out = await run(`${taskfsBin} submit -m ${d.mnt} ${tasks}`);
    expect(out).toMatch(/^\d+\n$/);
    const job = out.trim();
    const status = await until(async () => {
      const lines = (await run(`cat ${d.mnt}/jobs/${job}/status`)).split('\n').filter(Boolean);
      return lines.length === 5 && lines.every((l) => / Done /.test(l)) && lines;
    });
    expect(status.map((l) => l.split(' ')[0])).toEqual(['0', '1', '2', '3', '4']);
    expect((await run(`cat ${d.mnt}/jobs/${job}/stdout`)).split('\n').filter(Boolean).sort()).toEqual(
      [0, 1, 2, 3, 4].map((i) => `task ${i}`),
    );
    expect(await run(`cat ${d.mnt}/jobs/status`)).toMatch(new RegExp(`^${job} Complete 0 0 0 5 0 five$`, 'm'));
  });

  it('submit --wait from stdin: the output of every task, no progress when piped, exit 1 if one failed', async () => {
    const ok = await sh(`printf 'echo a\\necho b\\n' | ${taskfsBin} submit -m ${d.mnt} --wait --name pair -`);
    expect(ok.code).toBe(0);
    expect(ok.stdout.split('\n').filter(Boolean).sort()).toEqual(['a', 'b']);
    expect(ok.stderr).toMatch(/^taskfs submit: job \d+, 2 tasks\n$/); // nothing else: no progress when piped
    const bad = await sh(`printf 'true\\nfalse\\n' | ${taskfsBin} submit -m ${d.mnt} --wait --priority high -`);
    expect(bad.code).toBe(1);
  });

  it('submit --wait on a terminal shows progress: done/total, rate, time', async () => {
    const tasks = await file('three', "sh -c 'sleep 0.3; echo one'\necho two\necho three\n");
    await run(`${tmux} new-session -d -x 100 -y 10 '${taskfsBin} submit -m ${d.mnt} --wait ${tasks}; sleep 60'`);
    try {
      const screen = await until(async () => {
        const s = await run(`${tmux} capture-pane -p`);
        return /3\/3 done, .* in \d+s$/m.test(s) && s; // the final line: every output is above it
      }, 30_000);
      saveScreen('submit-wait.txt', screen);
      const lines = screen.split('\n').filter(Boolean);
      expect(lines[0]).toMatch(/^taskfs submit: job \d+, 3 tasks$/);
      expect(lines.slice(1, 4).sort()).toEqual(['one', 'three', 'two']);
      expect(lines[4]).toMatch(/^\[#{20}\] 3\/3 done, \d+\.\d\/s in \d+s$/);
    } finally {
      await sh(`${tmux} kill-session`);
    }
  });

  it('jobs prints its table', async () => {
    await run(`echo true | ${taskfsBin} submit -m ${d.mnt} --name 'my job' --priority low`);
    const lines = (await run(`${taskfsBin} jobs -m ${d.mnt}`)).split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^JOB\s+STATE\s+PRI\s+QUEUED\s+RUNNING\s+DONE\s+FAILED\s+ENDED\s+NAME$/);
    expect(lines.some((l) => /^\s*\d+\s+Complete\s+0\s+0\s+0\s+5\s+0\s+100%\s+five$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s*\d+\s+\w+\s+-10\s.*\smy job$/.test(l))).toBe(true);
  });

  it('nodes prints its table', async () => {
    const lines = (await run(`${taskfsBin} nodes -m ${d.mnt}`)).split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+SLOTS\s+BUSY\s+ATTRS$/);
    expect(lines[1]).toMatch(new RegExp(`^cli${tag}\\s+Up\\s+2\\s+\\d+\\s+os=Linux`));
    expect(lines).toHaveLength(2);
  });

  it('top under tmux shows the nodes and a running session; q quits', async () => {
    const sleeper = spawn(taskfsBin, ['run', '-m', d.mnt, '-n', '2', 'sleep', `100.${tag}`], { stdio: 'ignore' });
    try {
      await until(async () => (await pidsMatching(`^sleep 100.${tag}$`)).length === 2);
      await run(`${tmux} new-session -d -x 120 -y 40 '${taskfsBin} top -m ${d.mnt} -d 0.5'`);
      const screen = await until(async () => {
        const s = await run(`${tmux} capture-pane -p`);
        return /Execute 2/.test(s) && s;
      });
      saveScreen('top.txt', screen);
      expect(screen).toMatch(/^taskfs top {2}\S+ {2}\d\d:\d\d:\d\d {2}\(q quits\)$/m);
      expect(screen).toMatch(new RegExp(`^ {2}cli${tag}\\s+Up\\s+2\\s`, 'm'));
      expect(screen).toMatch(/^ {2}\s*\d+\s+2\s+Execute 2\s+sleep$/m);
      expect(screen).toMatch(/^JOBS {2}\d+$/m);
      expect(screen).toMatch(/\[#{20}\]\s+5\/5\s.*five$/m);
      await run(`${tmux} send-keys q`);
      await until(async () => (await sh(`${tmux} has-session`)).code !== 0); // top left, so did its tmux session
    } finally {
      sleeper.kill('SIGINT');
    }
    await until(async () => (await pidsMatching(`^sleep 100.${tag}$`)).length === 0);
  });

  it('top piped prints one frame, without escapes', async () => {
    const out = await run(`${taskfsBin} top -m ${d.mnt} | cat`);
    expect(out).toMatch(/^NODES {2}1 up, 2 slots/m);
    expect(out).toMatch(/^SESSIONS {2}0, 0 leaves running$/m);
    expect(out).not.toContain('\x1b');
  });

  it('bad input: one clear line and a non-zero exit', async () => {
    const empty = await file('empty', '\n# nothing but a comment\n');
    const quote = await file('quote', "echo fine\necho 'unbalanced\n");
    const jobsBefore = await run(`cat ${d.mnt}/jobs/status`);
    const cases: BadCommand[] = [
      [`${taskfsBin} submit -m ${d.mnt} ${empty}`, 1, /no tasks in .*empty/],
      [`${taskfsBin} submit -m ${d.mnt} < /dev/null`, 1, /no tasks in stdin/],
      [`${taskfsBin} submit -m ${d.mnt} ${quote}`, 1, /quote:2: unbalanced quote/],
      [`${taskfsBin} submit -m ${d.mnt} --priority urgent ${empty}`, 2, /--priority wants high, normal, low/],
      [`${taskfsBin} submit -m ${join(d.dir, 'none')} ${quote}`, 1, /quote:2/],
      [`echo true | ${taskfsBin} submit -m ${join(d.dir, 'none')}`, 1, /no taskfs mount at/],
      [`${taskfsBin} submit -m ${d.mnt} ${join(d.dir, 'missing')}`, 1, /no such file/],
      [`${taskfsBin} jobs -m ${d.mnt} --bogus`, 2, /unknown option --bogus/],
      [`${taskfsBin} nodes -m ${join(d.dir, 'none')}`, 1, /no taskfs mount at/],
      [`${taskfsBin} top -m ${d.mnt} -d 0`, 2, /-d wants seconds/],
    ];
    await expectOneLineFailures(cases);
    expect(await run(`cat ${d.mnt}/jobs/status`)).toBe(jobsBefore); // no job was made
  });
});
