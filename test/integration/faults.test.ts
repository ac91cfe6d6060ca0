/**
 * Faults injected into a node (README "Faults injected and survived"): it keeps serving, blocked readers
 * return, affected leaves say why, no process is left behind (checked by
 * process group), no stale mount.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import {
  isMounted,
  peakRss,
  pidsMatching,
  run,
  sh,
  startMount,
  startServe,
  stopAll,
  until,
} from '../helpers/daemon.js';
import { OREAD, Raw9p } from '../helpers/raw9p.js';

const marker = () => `${1000 + Math.floor(Math.random() * 9000)}.${process.pid}`;

/** True when no process is left in process group `pgid`. */
async function groupGone(pgid: number): Promise<boolean> {
  return (await sh(`pgrep -g ${pgid} > /dev/null`)).code !== 0;
}

describe.skipIf(fuseMissing)('faults', () => {
  beforeAll(() => requirePrograms('pgrep'));
  afterAll(stopAll);

  it('a process that forks children and exits: its whole process group is cleaned', async () => {
    const d = await startMount();
    const m = marker();
    const out = await run(
      `cd $(cat clone) && echo "exec sh -c 'sleep ${m} & echo leader done'" > ctl && cat stdout && cat wait`,
      { cwd: d.mnt },
    );
    expect(out).toMatch(/^leader done\n\d+ \d+ \d+ \d+ ''\n$/);
    const pgid = Number(out.split('\n')[1]!.split(' ')[0]);
    await until(() => groupGone(pgid), 5000);
    expect(await pidsMatching(`^sleep ${m}$`)).toEqual([]);
  });

  it('a leaf that ignores SIGTERM: kill escalates to SIGKILL and the group is gone', async () => {
    const d = await startMount();
    const out = await run(
      `cd $(cat clone) && cat > ctl <<'EOF'
exec sh -c 'trap "" TERM; while :; do sleep 0.1; done'
EOF
sleep 0.3; echo kill > ctl; cat wait`,
      { cwd: d.mnt },
    );
    expect(out).toMatch(/^\d+ \d+ \d+ \d+ killed\n$/);
    await until(() => groupGone(Number(out.split(' ')[0])), 5000);
  });

  it('the daemon SIGKILLed with readers blocked on the mount: they return, the mount goes', async () => {
    const d = await startMount();
    const m = marker();
    const n = (await run(`n=$(cat clone); echo $n; echo exec sleep ${m} > $n/ctl`, { cwd: d.mnt })).trim();
    const readers = Array.from({ length: 5 }, () => sh(`cat ${n}/wait`, { cwd: d.mnt, timeout: 30_000 }));
    await new Promise((r) => setTimeout(r, 300));
    d.proc.kill('SIGKILL');
    const results = await Promise.all(readers);
    for (const r of results) expect(r.code).not.toBe(0); // ENOTCONN: the daemon is gone
    await until(async () => !(await isMounted(d.mnt)), 5000);
    await until(async () => (await pidsMatching(`^sleep ${m}$`)).length === 0, 5000);
    const again = await startMount([], { dir: d.dir, mnt: d.mnt });
    expect(await run('cat arch', { cwd: again.mnt })).toMatch(/^Linux /);
  });

  it('a 9P connection cut mid-message: the node keeps serving', async () => {
    const node = await startServe();
    const [, host, port] = node.addr.split('!');
    for (let i = 0; i < 20; i++) {
      const s = connect(Number(port), host);
      await new Promise((r) => s.once('connect', r));
      // A Tversion header that promises 100 bytes, then half of them, then gone.
      const frame = Buffer.alloc(57);
      frame.writeUInt32LE(100, 0);
      frame[4] = 100;
      s.end(frame);
      s.destroy();
    }
    const c = await Raw9p.dial(node.addr);
    try {
      expect(await c.version()).toBe('9P2000');
      await c.attach(0);
      expect(await c.walk(0, 1, ['arch'])).toBe(1);
      await c.open(1, OREAD);
      expect(await c.readAll(1)).toMatch(/^Linux /);
    } finally {
      c.close();
    }
  });

  it('the process server killed: its leaves end and say so, the node starts another, the next exec runs', async () => {
    const d = await startMount();
    const marker = `${Date.now() % 100000}.${process.pid}`;
    const n = (
      await run(`n=$(cat clone); echo $n; echo res 2 > $n/ctl; echo exec sleep ${marker} > $n/ctl`, { cwd: d.mnt })
    ).trim();
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 2, 5000);
    const server = Number((await run(`pgrep -P ${d.proc.pid} -f taskfs-spawnd`)).trim());
    process.kill(server, 'SIGKILL');
    // The leaves die with it (parent-death signal), and their waits say how.
    expect(await run(`cat ${n}/wait`, { cwd: d.mnt, timeout: 10_000 })).toMatch(
      /^\d+ \d+ \d+ \d+ 'signal: 9'\n\d+ \d+ \d+ \d+ 'signal: 9'\n$/,
    );
    await until(async () => (await pidsMatching(`^sleep ${marker}$`)).length === 0, 5000);
    await until(async () => /process server ended \(SIGKILL\): starting another/.test(d.stderr()), 5000);
    await until(async () => (await sh(`pgrep -P ${d.proc.pid} -f taskfs-spawnd`)).code === 0, 5000);
    expect(await run('cd $(cat clone) && echo exec echo again > ctl && cat stdout', { cwd: d.mnt })).toBe('again\n');
    await d.stop();
  });

  it('spool disk full: the leaf is paused, the node serves, and nothing is lost once there is room', async () => {
    const d0 = await startMount();
    const work = join(d0.dir, 'tiny');
    await mkdir(work);
    await run(`mount -t tmpfs -o size=2m taskfs-test ${work}`);
    try {
      const d = await startMount(['--workdir', work], { dir: d0.dir, mnt: join(d0.dir, 'mnt2') });
      const total = 24 * 1024 * 1024;
      const n = (
        await run(`n=$(cat clone); echo $n; echo exec head -c ${total} /dev/zero > $n/ctl`, { cwd: d.mnt })
      ).trim();
      // The disk fills; the writer stalls, still Execute, and the node still answers.
      await until(async () => {
        const a = await run(`stat -c %s ${n}/stdout`, { cwd: d.mnt });
        await new Promise((r) => setTimeout(r, 500));
        return a === (await run(`stat -c %s ${n}/stdout`, { cwd: d.mnt }));
      }, 15_000);
      expect(await run(`cat ${n}/status`, { cwd: d.mnt })).toMatch(/ Execute /);
      expect(await run('cat arch', { cwd: d.mnt })).toMatch(/^Linux /);
      expect(await peakRss(d.proc.pid!)).toBeLessThan(200 * 1024 * 1024);
      // Room again: the spool retries, the leaf finishes, every byte is there.
      await run(`mount -o remount,size=64m ${work}`);
      await run(`cat ${n}/wait > /dev/null`, { cwd: d.mnt, timeout: 30_000 });
      expect((await run(`cat ${n}/stdout | wc -c`, { cwd: d.mnt })).trim()).toBe(String(total));
      await d.stop();
    } finally {
      await sh(`umount -l ${work}`);
    }
  });
});
