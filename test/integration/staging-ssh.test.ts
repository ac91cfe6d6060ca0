/**
 * Staging to child nodes over ssh (README "Staging"): the same 9P over the
 * ssh channel, no code of its own. Against the private sshd of
 * test/helpers/sshd.ts, with aliases h1 and h2.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import { run, startMount, stopAll, taskfsBin } from '../helpers/daemon.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const MB = 1000 * 1000;

describe.skipIf(fuseMissing)('staging to ssh children', () => {
  let sshd: Sshd;

  beforeAll(async () => {
    requirePrograms('sshd', 'ssh', 'ssh-keygen');
    sshd = await startSshd({ hosts: 2 });
  });
  afterEach(stopAll);
  afterAll(async () => {
    await sshd?.stop();
  });

  it('1 MB in fs/ reaches a leaf on each ssh host, not sent again; collect brings back both', async () => {
    const root = await startMount(['--hosts', 'h[1-2]', '--ssh-taskfs', taskfsBin, '--slots', '0'], {
      env: sshd.env,
    });
    const cwd = root.mnt;
    await run(`head -c ${MB} /dev/urandom > fs/data.bin`, { cwd, timeout: 12_000 });
    const md5 = (await run('md5sum < fs/data.bin', { cwd, timeout: 12_000 })).slice(0, 32);
    const s = join(cwd, (await run('cat clone', { cwd, timeout: 12_000 })).trim());
    const script = `exec sh -c 'md5sum < data.bin | cut -c1-32 > sum.txt'`;
    await run(`echo res 2 > ctl && cat > ctl <<'EOF'\n${script}\nEOF\ncat wait`, { cwd: s, timeout: 12_000 });
    // Both hosts are this machine with one HOME, so one workdir and one fs/:
    // the second host may find the file there already, sent by the first.
    const sent = await run('cat fs/.sent', { cwd, timeout: 12_000 });
    expect([`${MB} 1\n`, `${2 * MB} 2\n`]).toContain(sent);
    await run('echo collect sum.txt > ctl', { cwd: s, timeout: 12_000 });
    expect(await run('cat fs/out/0/sum.txt fs/out/1/sum.txt', { cwd: s, timeout: 12_000 })).toBe(`${md5}\n${md5}\n`);
    await run(`cat > ctl <<'EOF'\n${script}\nEOF\ncat wait`, { cwd: s, timeout: 12_000 });
    expect(await run('cat fs/.sent', { cwd, timeout: 12_000 })).toBe(sent);
  });
});
