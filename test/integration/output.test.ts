/**
 * Spooled output (README "Lifetime": output is spooled, not piped): late and repeated readers see every
 * byte, lines are never spliced across leaves, memory stays bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { peakRss, run, startMount, stopAll, type Daemon } from '../helpers/daemon.js';

describe.skipIf(fuseMissing)('spooled output through FUSE', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startMount(['--slots', '3']);
  });
  afterAll(stopAll);

  it('late and repeated readers of 3 x seq 1 300000 get 900000 whole lines', async () => {
    const n = (
      await run(
        'n=$(cat clone); echo $n; echo res 3 > $n/ctl; echo exec seq 1 300000 > $n/ctl; cat $n/wait > /dev/null',
        { cwd: d.mnt },
      )
    ).trim();
    for (let i = 0; i < 2; i++) {
      expect((await run(`cat ${n}/stdout | wc -l`, { cwd: d.mnt })).trim()).toBe('900000');
    }
    // Every number appears exactly three times and nothing else appears: no spliced lines.
    const bad = await run(`cat ${n}/stdout | sort -n | uniq -c | awk '$1 != 3 || $2 < 1 || $2 > 300000' | wc -l`, {
      cwd: d.mnt,
    });
    expect(bad.trim()).toBe('0');
    // One leaf's stream keeps its own order.
    expect((await run(`cat ${n}/1/stdout | md5sum`, { cwd: d.mnt })).split(' ')[0]).toBe(
      (await run('seq 1 300000 | md5sum')).split(' ')[0],
    );
  });

  it('a leaf writing 1 GiB with nobody reading keeps the daemon small, and all of it reads back', async () => {
    const gib = 1024 ** 3;
    const n = (
      await run(`n=$(cat clone); echo $n; echo exec head -c ${gib} /dev/zero > $n/ctl; cat $n/wait > /dev/null`, {
        cwd: d.mnt,
        timeout: 120_000,
      })
    ).trim();
    expect(await peakRss(d.proc.pid!)).toBeLessThan(200 * 1024 * 1024);
    expect((await run(`cat ${n}/stdout | wc -c`, { cwd: d.mnt, timeout: 120_000 })).trim()).toBe(String(gib));
    expect(await peakRss(d.proc.pid!)).toBeLessThan(200 * 1024 * 1024);
    await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
  }, 240_000);

  it('tail -f follows a growing stdout', async () => {
    const script = [
      'n=$(cat clone)',
      `echo "exec sh -c 'for i in 1 2 3; do echo tick \\$i; sleep 0.3; done'" > $n/ctl`,
      'timeout 3 tail -f $n/stdout; true',
    ].join('\n');
    expect(await run(script, { cwd: d.mnt })).toBe('tick 1\ntick 2\ntick 3\n');
  });
});
