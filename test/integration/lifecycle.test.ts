/**
 * The daemon's own life (README "Lifetime"): SIGTERM, SIGINT and fusermount -u
 * leave no mount and no process; after SIGKILL the next mount starts clean.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fuseMissing } from '../helpers/fuse.js';
import { readMounts } from '../../src/fuse/mountinfo.js';
import { isMounted, pidsMatching, run, sh, startMount, stopAll, taskfsBin, until } from '../helpers/daemon.js';

async function startSleepers(mnt: string, marker: string): Promise<void> {
  await run(`n=$(cat clone); echo res 2 > $n/ctl; echo exec sleep ${marker} > $n/ctl`, { cwd: mnt });
  expect(await pidsMatching(`^sleep ${marker}$`)).toHaveLength(2);
}

const uniqueMarker = () => `${1000 + Math.floor(Math.random() * 9000)}.${process.pid}`;

describe.skipIf(fuseMissing)('daemon lifecycle', () => {
  afterAll(stopAll);

  for (const how of ['SIGTERM', 'SIGINT', 'fusermount -u'] as const) {
    it(`${how} leaves no mount and no process`, async () => {
      const d = await startMount();
      const marker = uniqueMarker();
      await startSleepers(d.mnt, marker);
      if (how === 'fusermount -u') await run(`fusermount -u ${d.mnt}`);
      else d.proc.kill(how);
      expect(await d.exited).toBe(0);
      expect(await isMounted(d.mnt)).toBe(false);
      await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 5000);
      await d.stop();
    });
  }

  it('a second SIGTERM while a stop waits on a leaf ignoring SIGTERM exits at once, leaving nothing', async () => {
    const d = await startMount();
    const marker = uniqueMarker();
    await run(`n=$(cat clone); echo exec sh -c "'trap \\"\\" TERM; exec sleep ${marker}'" > $n/ctl`, { cwd: d.mnt });
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 1, 5000);
    d.proc.kill('SIGTERM'); // the stop now waits 2 s to escalate to SIGKILL
    await until(async () => /stopping node/.test(d.stderr()), 5000);
    d.proc.kill('SIGTERM');
    expect(await d.exited).toBe(1);
    expect(d.stderr()).toMatch(/SIGTERM while stopping: exiting now/);
    await until(async () => !(await isMounted(d.mnt)), 5000);
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 5000);
    await d.stop();
  });

  it('after SIGKILL the next mount on the same point starts cleanly, and the orphans die', async () => {
    const d = await startMount();
    const marker = uniqueMarker();
    await startSleepers(d.mnt, marker);
    d.proc.kill('SIGKILL');
    await d.exited;
    // The exec helper hears its parent die and kills the group it ran.
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 5000);
    const again = await startMount([], { dir: d.dir, mnt: d.mnt });
    expect(await run('cat clone', { cwd: again.mnt })).toBe('0');
    await again.stop();
  });

  it('the mount is private to its user and nothing in the workdir is world-writable', async () => {
    const d = await startMount();
    await run('n=$(cat clone); echo exec seq 1 300000 > $n/ctl; cat $n/wait > /dev/null', { cwd: d.mnt });
    const mount = (await readMounts()).find((m) => m.mountpoint === d.mnt)!;
    const options = `${mount.options} ${mount.superOptions}`;
    expect(options).not.toMatch(/allow_other/);
    expect(options).toContain(`user_id=${process.getuid!()}`);
    expect(await run(`find ${d.dir}/work -perm -o+w`)).toBe('');
    expect(await run(`stat -c %a ${d.dir}/work/spool ${d.dir}/work/work`)).toBe('700\n700\n');
    await d.stop();
  });

  it('refuses a non-empty ordinary directory and explains', async () => {
    const d = await startMount();
    await d.stop();
    const busy = join(d.dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'file'), 'x');
    const r = await sh(`${taskfsBin} mount ${busy} --workdir ${d.dir}/w2`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/non-empty directory/);
  });

  it('--help describes every option', async () => {
    expect(await run(`${taskfsBin} --help`)).toMatch(/mount \[MOUNTPOINT\]/);
    const mount = await run(`${taskfsBin} mount --help`);
    for (const opt of [
      '--slots',
      '--strict-slots',
      '--name',
      '--workdir',
      '--listen',
      '--remote',
      '--key',
      '--max-sessions',
      '--max-leaves',
      '--spool-limit',
      '--allow-other',
    ]) {
      expect(mount).toContain(opt);
    }
    const serve = await run(`${taskfsBin} serve --help`);
    for (const opt of ['--listen', '--remote', '--key', '--slots']) expect(serve).toContain(opt);
  });

  it('limits given on the command line show in the node ctl; bad values are refused', async () => {
    const d = await startMount([
      '--name',
      'limited',
      '--max-sessions',
      '50',
      '--max-leaves',
      '8',
      '--spool-limit',
      '512M',
    ]);
    expect(await run('cat ctl', { cwd: d.mnt })).toMatch(
      /^name limited\n(.|\n)*limit sessions 50\nlimit leaves 8\nlimit spool 536870912\n$/,
    );
    await d.stop();
    const bad = await sh(`${taskfsBin} mount ${d.mnt} --spool-limit lots`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--spool-limit wants a byte count/);
  });
});
