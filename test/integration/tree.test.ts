/**
 * A tree of real node processes on loopback (README "Many machines"): shares, aggregation
 * through the root mount, failures of a middle node and of the root.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { peakRss, pidsMatching, run, sh, startMount, startServe, stopAll, until } from '../helpers/daemon.js';

const lines = (text: string) => text.split('\n').filter(Boolean);
const marker = () => `${1000 + Math.floor(Math.random() * 9000)}.${process.pid}`;

describe.skipIf(fuseMissing)('a tree of nodes', () => {
  afterEach(stopAll);

  it('three levels run the worked session through the root mount', async () => {
    const grandchild = await startServe(['--slots', '2']);
    const a = await startServe(['--slots', '2', '--remote', grandchild.addr]);
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    expect(await run('cat status', { cwd: root.mnt })).toBe(`4 Linux ${(await run('uname -m')).trim()}\n`);
    expect(lines(await run('cat ns', { cwd: root.mnt }))).toEqual([
      `mount ${a.addr} ${name(a.addr)}`,
      `mount ${b.addr} ${name(b.addr)}`,
    ]);
    expect(lines(await run('ls nodes', { cwd: root.mnt }))).toEqual([name(a.addr), name(b.addr)].sort());

    const out = await run(
      `cd $(cat clone) && echo res 4 > ctl && ls -d [0-9]* && cat topology && echo && cat > ctl <<'EOF'
exec sh -c 'echo rank $TASKFS_RANK of $TASKFS_SIZE'
EOF
cat stdio`,
      { cwd: root.mnt },
    );
    const [l0, l1, topology, ...ranks] = lines(out);
    expect([l0, l1]).toEqual(['0', '1']);
    expect(topology).toBe('0/0/0 0/0/1 1/0 1/1');
    expect(ranks.sort()).toEqual(['rank 0 of 4', 'rank 1 of 4', 'rank 2 of 4', 'rank 3 of 4']);
    const status = lines(await run('cat 0/status', { cwd: root.mnt }));
    expect(status).toHaveLength(4);
    for (const l of status) expect(l).toMatch(/^cmd\/\d+ \d+ Done \S+ sh$/);
    const wait = lines(await run('cat 0/wait', { cwd: root.mnt }));
    expect(wait).toHaveLength(4);
    for (const l of wait) expect(l).toMatch(/^\d+ \d+ \d+ \d+ ''$/);
    // 0/0 is the middle node's session, 0/0/0 the grandchild's, 0/1 the other child's.
    expect(
      await run('cat 0/0/topology; echo; cat 0/0/0/topology; echo; cat 0/1/status | wc -l', { cwd: root.mnt }),
    ).toBe('0/0 0/1\n0 1\n2\n');
  });

  it('shares follow capacity; an impossible request leaves nothing reserved anywhere', async () => {
    const one = await startServe(['--slots', '1']);
    const three = await startServe(['--slots', '3']);
    const root = await startMount(['--remote', one.addr, '--remote', three.addr]);
    expect(await run('cat status', { cwd: root.mnt })).toMatch(/^4 Linux /);
    expect(await run('cd $(cat clone) && echo res 4 > ctl && cat topology', { cwd: root.mnt })).toBe('0 1/0 1/1 1/2');

    const r = await sh('n=$(cat clone); /bin/echo res 4 Plan9 mips > $n/ctl; s=$?; cat $n/err; exit $s', {
      cwd: root.mnt,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('No space left on device');
    expect(r.stdout).toMatch(/no child node has resources matching Plan9 mips/);
    // Only the first reservation's sessions exist on the children.
    expect(lines(await run(`ls nodes/${name(one.addr)} | grep -c '^[0-9]'`, { cwd: root.mnt }))).toEqual(['1']);
  });

  it('a refusing child rolls back every share already granted', async () => {
    const strict = await startServe(['--slots', '1', '--strict-slots']);
    const loose = await startServe(['--slots', '1']);
    const root = await startMount(['--remote', strict.addr, '--remote', loose.addr]);
    const r = await sh('n=$(cat clone); /bin/echo res 4 > $n/ctl; s=$?; cat $n/err; exit $s', { cwd: root.mnt });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/only 1 of 1 slots free/);
    for (const child of [strict, loose]) {
      expect((await sh(`ls nodes/${name(child.addr)} | grep '^[0-9]'`, { cwd: root.mnt })).stdout).toBe('');
    }
  });

  it('SIGKILL of a middle node: its leaves turn Lost, wait answers, the rest run on', async () => {
    const grandchild = await startServe(['--slots', '2']);
    const middle = await startServe(['--slots', '2', '--remote', grandchild.addr]);
    const other = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', middle.addr, '--remote', other.addr]);
    const m = marker();
    const n = (
      await run(`n=$(cat clone); echo $n; echo res 4 > $n/ctl; echo exec sleep ${m} > $n/ctl`, { cwd: root.mnt })
    ).trim();
    expect(await pidsMatching(`^sleep ${m}$`)).toHaveLength(4);
    const waiting = sh(`cat ${n}/wait`, { cwd: root.mnt, timeout: 60_000 });
    middle.proc.kill('SIGKILL');
    const status = await until(async () => {
      const s = await run(`cat ${n}/status`, { cwd: root.mnt });
      return (s.match(/ Lost /g) ?? []).length === 2 ? s : undefined;
    }, 10_000);
    expect(status.match(/ Execute /g)).toHaveLength(2);
    // The grandchild's parent is gone: it releases and kills its leaves.
    await until(async () => (await pidsMatching(`^sleep ${m}$`)).length === 2, 5000);
    await run(`echo kill > ${n}/ctl`, { cwd: root.mnt });
    const wait = lines((await waiting).stdout);
    expect(wait).toHaveLength(4);
    expect(wait.filter((l) => /'lost: /.test(l))).toHaveLength(2);
    expect(wait.filter((l) => / killed$/.test(l))).toHaveLength(2);
  });

  it('wait is collected from every child as often as it is read, and wipe leaves nothing on them', async () => {
    const a = await startServe(['--slots', '2']);
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    for (let launch = 0; launch < 2; launch++) {
      const out = lines(
        await run(
          'n=$(cat clone); echo res 4 > $n/ctl; echo exec true > $n/ctl; cat $n/wait; cat $n/wait | wc -l; cat $n/1/wait | wc -l; echo wipe > $n/ctl',
          { cwd: root.mnt },
        ),
      );
      expect(out).toHaveLength(6);
      for (const l of out.slice(0, 4)) expect(l).toMatch(/^\d+ \d+ \d+ \d+ ''$/);
      expect(out.slice(4).map((l) => l.trim())).toEqual(['4', '2']);
      for (const child of [a, b]) {
        expect((await sh(`ls nodes/${name(child.addr)} | grep '^[0-9]'`, { cwd: root.mnt })).stdout).toBe('');
      }
    }
  });

  it('SIGKILL of the root: every process it started below is gone and the sessions released', async () => {
    const a = await startServe(['--slots', '2']);
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const m = marker();
    await run(`n=$(cat clone); echo res 4 > $n/ctl; echo exec sleep ${m} > $n/ctl`, { cwd: root.mnt });
    expect(await pidsMatching(`^sleep ${m}$`)).toHaveLength(4);
    root.proc.kill('SIGKILL');
    await until(async () => (await pidsMatching(`^sleep ${m}$`)).length === 0, 5000);
    const again = await startMount(['--remote', a.addr]);
    expect(await run(`cat nodes/${name(a.addr)}/0/status`, { cwd: again.mnt })).toMatch(/^cmd\/0 0 Closed /);
  });

  it('mount and unmount child nodes at run time through ctl', async () => {
    const child = await startServe(['--slots', '3']);
    const root = await startMount();
    await run(`echo mount ${child.addr} worker > ctl`, { cwd: root.mnt });
    expect(await run('cat ns; ls nodes; cat status', { cwd: root.mnt })).toMatch(
      new RegExp(`^mount ${child.addr} worker\nworker\n3 Linux `),
    );
    expect(await run('cat nodes/worker/arch', { cwd: root.mnt })).toMatch(/^Linux /);
    const dup = await sh(`/bin/echo mount ${child.addr} worker > ctl`, { cwd: root.mnt });
    expect(dup.stderr).toContain('File exists');
    const nowhere = await sh('/bin/echo mount tcp!127.0.0.1!1 nobody > ctl', { cwd: root.mnt });
    expect(nowhere.code).not.toBe(0);
    await run('echo unmount worker > ctl', { cwd: root.mnt });
    // A mount that failed is listed as down until unmounted (README "SSH and hostlists").
    expect(await run('cat ns; ls nodes', { cwd: root.mnt })).toMatch(/^# down nobody mount tcp!127\.0\.0\.1!1: .*\n$/);
    await run('echo unmount nobody > ctl', { cwd: root.mnt });
    expect(await run('cat ns; ls nodes', { cwd: root.mnt })).toBe('');
    expect((await sh('/bin/echo unmount worker > ctl', { cwd: root.mnt })).stderr).toContain(
      'No such file or directory',
    );
  });

  it('xsplice carries bytes between leaves on different nodes', async () => {
    const a = await startServe(['--slots', '1']);
    const b = await startServe(['--slots', '1']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const out = await run(
      `cd $(cat clone) && echo res 2 > ctl && cat > ctl <<'EOF'
exec sh -c 'if [ $TASKFS_RANK = 0 ]; then echo one; echo two; else tr a-z A-Z; fi'
xsplice 0 1
EOF
cat 1/stdout`,
      { cwd: root.mnt },
    );
    expect(out).toBe('ONE\nTWO\n');
  });

  it('stdin fanned out to 4 leaves on 2 children in 4 KiB writes: each leaf gets it whole and in order, a slow one too', async () => {
    const a = await startServe(['--slots', '2']);
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    // head -c writes 4 KiB at a time: writes that linger and go gathered (README "Performance").
    const out = await run(
      `f=$(mktemp) && head -c 6000000 /dev/urandom > $f && want=$(sha256sum < $f) &&
cd $(cat clone) && echo res 4 > ctl && cat > ctl <<'EOF'
exec sh -c 'if [ $TASKFS_RANK = 1 ]; then sleep 1; fi; sha256sum'
EOF
head -c 6000000 $f > stdin && echo eof > ctl && cat wait > /dev/null && rm $f &&
for r in 0 1 2 3; do printf '%s ' $r; cat ranks/$r/stdout; done; echo "want $want"`,
      { cwd: root.mnt },
    );
    const got = lines(out);
    const want = got.pop()!.replace(/^want /, '');
    expect(got).toEqual([`0 ${want}`, `1 ${want}`, `2 ${want}`, `3 ${want}`]);
  });

  it('a frozen child node (SIGSTOP) is found out by keepalive and its leaves turn Lost', async () => {
    const frozen = await startServe(['--slots', '1']);
    const fine = await startServe(['--slots', '1']);
    const root = await startMount(['--remote', frozen.addr, '--remote', fine.addr]);
    const n = (
      await run('n=$(cat clone); echo $n; echo res 2 > $n/ctl; echo exec sleep 60 > $n/ctl', { cwd: root.mnt })
    ).trim();
    const waiting = sh(`cat ${n}/wait`, { cwd: root.mnt });
    frozen.proc.kill('SIGSTOP');
    try {
      await until(async () => / Lost /.test(await run(`cat ${n}/status`, { cwd: root.mnt })), 15_000, 500);
      await run(`echo kill > ${n}/ctl`, { cwd: root.mnt });
      const wait = lines((await waiting).stdout);
      expect(wait.filter((l) => /'lost: /.test(l))).toHaveLength(1);
      expect(wait.filter((l) => / killed$/.test(l))).toHaveLength(1);
    } finally {
      frozen.proc.kill('SIGCONT');
    }
  });

  it('256 MiB from leaves two levels down reaches the root whole, its memory bounded', async () => {
    const grandchild = await startServe(['--slots', '2']);
    const middle = await startServe(['--slots', '2', '--remote', grandchild.addr]);
    const root = await startMount(['--remote', middle.addr]);
    const each = 128 * 1024 * 1024;
    const out = await run(
      `cd $(cat clone) && echo res 2 > ctl && echo exec head -c ${each} /dev/zero > ctl && cat stdout | wc -c`,
      { cwd: root.mnt, timeout: 120_000 },
    );
    expect(out.trim()).toBe(String(2 * each));
    expect(await peakRss(root.proc.pid!)).toBeLessThan(200 * 1024 * 1024);
  }, 180_000);

  it('a leaf two levels down streams byte for byte through the middle node, read in any size', async () => {
    // The middle node passes the bottom node's reply frames on, and the root recycles them (README "Performance").
    const bottom = await startServe(['--slots', '1']);
    const middle = await startServe(['--slots', '0', '--remote', bottom.addr]);
    const root = await startMount(['--remote', middle.addr]);
    const want = (await run('seq 1 3000000 | md5sum')).split(' ')[0];
    const out = await run(
      `cd nodes/${name(middle.addr)} && n=$(cat clone) && echo res 1 > $n/ctl && echo exec seq 1 3000000 > $n/ctl &&
       cat $n/stdout | md5sum && dd if=$n/stdout bs=100000 2>/dev/null | md5sum && dd if=$n/stdout bs=777 2>/dev/null | md5sum &&
       cat $n/status`,
      { cwd: root.mnt, timeout: 120_000 },
    );
    const [a, b, c] = lines(out)
      .slice(0, 3)
      .map((l) => l.split(' ')[0]);
    expect([a, b, c]).toEqual([want, want, want]);
    // The leaf ran on the bottom node, under its workdir.
    expect(out).toContain(`${bottom.dir}/work/`);
  }, 180_000);
});

function name(addr: string): string {
  const [, host, port] = addr.split('!');
  return `${host}-${port}`;
}
