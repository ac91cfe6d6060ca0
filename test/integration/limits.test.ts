/**
 * Limits (README "Limits"): each one crossed gets its documented error, and the
 * node keeps working. The spool limit pauses a leaf without losing output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { run, sh, startMount, stopAll, until, type Daemon } from '../helpers/daemon.js';

const ENOSPC = 'No space left on device';

describe.skipIf(fuseMissing)('node limits', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startMount(['--slots', '2']);
  });
  afterAll(stopAll);

  it('sessions per node', async () => {
    await run('echo limit sessions 3 > ctl', { cwd: d.mnt });
    try {
      const made = lines(await run('cat clone; echo; cat clone; echo', { cwd: d.mnt }));
      expect(made).toHaveLength(2);
      const third = (await run('cat clone', { cwd: d.mnt })).trim();
      const r = await sh('cat clone', { cwd: d.mnt });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(ENOSPC);
      // A reservation that would need more sessions fails whole, with the reason.
      const res = await sh(`/bin/echo res 2 > ${third}/ctl`, { cwd: d.mnt });
      expect(res.stderr).toContain(ENOSPC);
      expect(await run(`cat ${third}/err`, { cwd: d.mnt })).toMatch(/too many sessions: this node's limit is 3/);
      for (const n of [...made, third]) await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
    } finally {
      await run('echo limit sessions 10000 > ctl', { cwd: d.mnt });
    }
    expect(await run('cat ctl', { cwd: d.mnt })).toContain('limit sessions 10000');
  });

  it('leaves per res', async () => {
    await run('echo limit leaves 2 > ctl', { cwd: d.mnt });
    try {
      const r = await sh('n=$(cat clone); /bin/echo res 3 > $n/ctl; s=$?; cat $n/err; echo wipe > $n/ctl; exit $s', {
        cwd: d.mnt,
      });
      expect(r.stderr).toContain(ENOSPC);
      expect(r.stdout).toMatch(/3 leaves is more than the limit of 2/);
    } finally {
      await run('echo limit leaves 4096 > ctl', { cwd: d.mnt });
    }
  });

  it('spool bytes per leaf: the writer is paused, not killed, and loses nothing', async () => {
    await run('echo limit spool 1000000 > ctl', { cwd: d.mnt });
    const total = 8_000_000;
    const n = (
      await run(`n=$(cat clone); echo $n; echo exec head -c ${total} /dev/zero > $n/ctl`, { cwd: d.mnt })
    ).trim();
    // It stops near the limit (a pipe's worth beyond it at most) and stays Execute.
    const stalled = await until(async () => {
      const a = Number(await run(`stat -c %s ${n}/stdout`, { cwd: d.mnt }));
      await new Promise((r) => setTimeout(r, 300));
      const b = Number(await run(`stat -c %s ${n}/stdout`, { cwd: d.mnt }));
      return a === b && a >= 1_000_000 ? a : undefined;
    });
    expect(stalled).toBeLessThan(2_000_000);
    expect(await run(`cat ${n}/status`, { cwd: d.mnt })).toMatch(/ Execute /);
    await run('echo limit spool 0 > ctl', { cwd: d.mnt });
    await run(`cat ${n}/wait > /dev/null`, { cwd: d.mnt });
    expect((await run(`cat ${n}/stdout | wc -c`, { cwd: d.mnt })).trim()).toBe(String(total));
    await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
  });

  it('an unknown limit is refused', async () => {
    const r = await sh('/bin/echo limit bananas 3 > ctl', { cwd: d.mnt });
    expect(r.stderr).toContain('Invalid argument');
  });
});

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean);
}
