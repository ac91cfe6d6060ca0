/**
 * The co-allocation runtime (README "Co-allocation") on two child nodes in
 * private mount namespaces, so that their leaves cannot see the root's
 * mount and reach it only through TASKFS_ROOT: subjobs, the barrier, mbox,
 * editing the request, siblings on different machines, bad input.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { type Daemon, run, sh, startMount, startServe, stopAll, taskfsBin, until } from '../helpers/daemon.js';
import { startIsolatedMount } from '../helpers/isolated.js';

const lines = (text: string) => text.split('\n').filter(Boolean);

/** A session of `res` at the root, its number; `script` is the leaves' sh program (one ctl line). */
async function launch(root: Daemon, res: string, script: string): Promise<string> {
  const n = (await run('cat clone', { cwd: root.mnt })).trim();
  const line = script.replace(/\n/g, '; ');
  await run(`echo ${res} > ${n}/ctl && cat > ${n}/ctl <<'EOF'\nexec sh -c '${line}'\nEOF`, {
    cwd: root.mnt,
  });
  return n;
}

describe.skipIf(fuseMissing)('co-allocation across isolated child nodes', () => {
  let a: Daemon & { addr: string };
  let b: Daemon & { addr: string };
  let root: Daemon;
  let names: string[];
  let scratch: string;

  beforeAll(async () => {
    // Children first: a mount made after their unshare does not reach them.
    [a, b] = await Promise.all([startIsolatedMount(['--slots', '3']), startIsolatedMount(['--slots', '3'])]);
    root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    names = lines(await run('ls nodes', { cwd: root.mnt }));
    scratch = await mkdtemp(join(tmpdir(), 'taskfs-coalloc-'));
  });
  afterAll(async () => {
    await stopAll();
    await rm(scratch, { recursive: true, force: true });
  });

  it('res 4: subjobs 0 and 1 of 2, ranks 0-3, and nobody passes the barrier before rank 0 reaches it', async () => {
    const n = await launch(
      root,
      'res 4',
      `test -e ${root.mnt}/clone && echo "$TASKFS_RANK sees the root mount"
echo "env $TASKFS_RANK $TASKFS_SIZE $TASKFS_SUBJOB $TASKFS_SUBJOB_RANK $TASKFS_SUBJOB_SIZE"
test -d "$TASKFS_ROOT/ranks" && echo "root $TASKFS_RANK $(cat $TASKFS_ROOT/topology)"
if [ $TASKFS_RANK = 0 ]; then sleep 2; echo "arrive0 $(date +%s%N)"; fi
cat $TASKFS_SESSION/barrier || exit 1
echo "passed $TASKFS_RANK $(date +%s%N)"`,
    );
    const out = lines(await run(`cat ${n}/stdout`, { cwd: root.mnt }));
    expect(out.filter((l) => l.includes('sees the root mount'))).toEqual([]);
    expect(out.filter((l) => l.startsWith('env ')).sort()).toEqual([
      'env 0 4 0 0 2',
      'env 1 4 0 1 2',
      'env 2 4 1 0 2',
      'env 3 4 1 1 2',
    ]);
    expect(out.filter((l) => l.startsWith('root '))).toHaveLength(4);
    for (const l of out.filter((l) => l.startsWith('root '))) expect(l).toMatch(/ 0\/0 0\/1 1\/0 1\/1$/);
    const arrive0 = Number(out.find((l) => l.startsWith('arrive0'))!.split(' ')[1]);
    const passed = out.filter((l) => l.startsWith('passed '));
    expect(passed).toHaveLength(4);
    for (const l of passed) expect(Number(l.split(' ')[2])).toBeGreaterThanOrEqual(arrive0);
    expect(await run(`cat ${n}/barrier`, { cwd: root.mnt })).toBe('4 4 Released\n');
    await run(`echo wipe > ${n}/ctl`, { cwd: root.mnt });
  });

  it('barrier manual: the root reads 4 4 once all arrived, and the leaves go on only after release', async () => {
    const went = join(scratch, 'went');
    await run(`mkdir -p ${went}`);
    const m = (await run('cat clone', { cwd: root.mnt })).trim();
    await run(
      `echo barrier manual > ${m}/ctl && echo res 4 > ${m}/ctl && cat > ${m}/ctl <<'EOF'
exec sh -c 'cat $TASKFS_SESSION/barrier && touch ${went}/$TASKFS_RANK'
EOF`,
      { cwd: root.mnt },
    );
    await until(async () => (await run(`cat ${m}/barrier`, { cwd: root.mnt })) === '4 4 Waiting\n');
    await new Promise((r) => setTimeout(r, 500));
    expect(await readdir(went)).toEqual([]);
    await run(`echo release > ${m}/ctl`, { cwd: root.mnt });
    await until(async () => (await readdir(went)).length === 4);
    expect(await run(`cat ${m}/barrier`, { cwd: root.mnt })).toBe('4 4 Released\n');
    await run(`cat ${m}/wait > /dev/null; echo wipe > ${m}/ctl`, { cwd: root.mnt });
  });

  it('a ring of 6 leaves over the two children: each gets its predecessor’s message, decoys wait their turn', async () => {
    const n = await launch(
      root,
      'res 6',
      `R=$TASKFS_RANK; NEXT=$(( (R + 1) % TASKFS_SIZE ))
echo decoy-$R > $TASKFS_ROOT/ranks/$NEXT/mbox/other
echo hi-from-$R > $TASKFS_ROOT/ranks/$NEXT/mbox/ring
echo "$R got $(cat $TASKFS_SESSION/mbox/ring) then $(cat $TASKFS_SESSION/mbox/other)"`,
    );
    expect(await run(`cat ${n}/topology`, { cwd: root.mnt })).toBe('0/0 0/1 0/2 1/0 1/1 1/2');
    const out = lines(await run(`cat ${n}/stdout`, { cwd: root.mnt })).sort();
    expect(out).toEqual([0, 1, 2, 3, 4, 5].map((r) => `${r} got hi-from-${(r + 5) % 6} then decoy-${(r + 5) % 6}`));
    await run(`echo wipe > ${n}/ctl`, { cwd: root.mnt });
  });

  it('a leaf killed before the barrier fails the others with a reason; with its share optional they pass', async () => {
    const script = `if [ $TASKFS_RANK = 3 ]; then kill -9 $$; fi
sleep 0.5; t0=$(date +%s%N)
if cat $TASKFS_SESSION/barrier 2>/dev/null; then echo "$TASKFS_RANK passed"
else echo "$TASKFS_RANK failed after $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat $TASKFS_SESSION/err)"; fi`;
    const n = await launch(root, 'res 4', script);
    const out = lines(await run(`cat ${n}/stdout`, { cwd: root.mnt })).sort();
    expect(out).toHaveLength(3);
    for (const [i, l] of out.entries()) {
      expect(l).toMatch(new RegExp(`^${i} failed after (\\d+) ms: barrier failed: rank 3 .*signal: 9`));
      expect(Number(/after (\d+) ms/.exec(l)![1])).toBeLessThan(5000);
    }
    expect(await run(`cat ${n}/barrier`, { cwd: root.mnt })).toMatch(/^\d 4 Failed 'rank 3 /);
    await run(`echo wipe > ${n}/ctl`, { cwd: root.mnt });

    // Ranks 2 and 3 are the second child's share: optional, rank 3's death is no failure.
    const m = await launch(root, `res 2@${names[0]} 2@${names[1]} optional`, script);
    expect(lines(await run(`cat ${m}/stdout`, { cwd: root.mnt })).sort()).toEqual(['0 passed', '1 passed', '2 passed']);
    expect(await run(`cat ${m}/barrier`, { cwd: root.mnt })).toBe('3 3 Released\n');
    await run(`echo wipe > ${m}/ctl`, { cwd: root.mnt });
  });

  it('drop and rmdir of a share before exec release its leaves on their node; ranks close up', async () => {
    const sessionsOnFirst = async () =>
      Number((await sh(`ls nodes/${names[0]} | grep -c '^[0-9]'`, { cwd: root.mnt })).stdout.trim());
    const before = await sessionsOnFirst();
    const n = (await run('cat clone', { cwd: root.mnt })).trim();
    await run(`echo res 3@${names[0]} 3@${names[1]} > ${n}/ctl`, { cwd: root.mnt });
    expect(await sessionsOnFirst()).toBe(before + 4); // the share's session and its three slots
    await run(`echo drop 0 > ${n}/ctl`, { cwd: root.mnt });
    expect(await run(`cat ${n}/topology`, { cwd: root.mnt })).toBe('0/0 0/1 0/2');
    // The first child's share is gone from that node, its three slot sessions with it.
    await until(async () => (await sessionsOnFirst()) === before);
    await run(`echo res +2@${names[0]} > ${n}/ctl && rmdir ${n}/0`, { cwd: root.mnt });
    expect(await run(`cat ${n}/topology`, { cwd: root.mnt })).toBe('0/0 0/1');
    await run(
      `cat > ${n}/ctl <<'EOF'\nexec sh -c 'cat $TASKFS_SESSION/barrier; echo $TASKFS_RANK of $TASKFS_SIZE in $TASKFS_SUBJOB'\nEOF`,
      {
        cwd: root.mnt,
      },
    );
    expect(lines(await run(`cat ${n}/stdout`, { cwd: root.mnt })).sort()).toEqual(['0 of 2 in 0', '1 of 2 in 0']);
    // Once the barrier is released the request is fixed.
    const r = await sh(`/bin/echo drop 0 > ${n}/ctl; s=$?; cat ${n}/err; exit $s`, { cwd: root.mnt });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/barrier was released/);
    await run(`echo wipe > ${n}/ctl`, { cwd: root.mnt });
  });

  it('siblings on different machines write each other’s stdin through TASKFS_ROOT and TASKFS_PARENT', async () => {
    const n = await launch(
      root,
      'res 4',
      `if [ $TASKFS_RANK = 0 ]; then echo from-0-via-root > $TASKFS_ROOT/ranks/3/stdin; echo eof > $TASKFS_ROOT/ranks/3/ctl; fi
if [ $TASKFS_RANK = 3 ]; then echo "3 read $(cat)"; fi`,
    );
    expect(await run(`cat ${n}/stdout`, { cwd: root.mnt })).toBe('3 read from-0-via-root\n');
    await run(`echo wipe > ${n}/ctl`, { cwd: root.mnt });
    // One leaf per child: each is its child node's session, and its parent is the root session.
    const m = await launch(
      root,
      'res 2',
      `if [ $TASKFS_RANK = 0 ]; then echo from-0-via-parent > $TASKFS_PARENT/1/stdin; echo eof > $TASKFS_PARENT/1/ctl; fi
if [ $TASKFS_RANK = 1 ]; then echo "1 read $(cat) in $(cat $TASKFS_PARENT/topology)"; fi`,
    );
    expect(await run(`cat ${m}/stdout`, { cwd: root.mnt })).toBe('1 read from-0-via-parent in 0 1\n');
    await run(`echo wipe > ${m}/ctl`, { cwd: root.mnt });
  });

  // Last: it kills the second child node.
  it('a child node lost before the release fails the waiters on the other', async () => {
    const n = await launch(
      root,
      `res 2@${names[0]} 2@${names[1]}`,
      `if [ $TASKFS_SUBJOB = 1 ]; then exec sleep 100; fi
if cat $TASKFS_SESSION/barrier 2>/dev/null; then echo "$TASKFS_RANK passed"; else echo "$TASKFS_RANK failed: $(cat $TASKFS_SESSION/err)"; fi`,
    );
    await until(async () => (await run(`cat ${n}/barrier`, { cwd: root.mnt })) === '2 4 Waiting\n');
    const second = [a, b].find((d) => names[1] === d.addr.replace(/^tcp!/, '').replace('!', '-'))!;
    await second.stop('SIGKILL');
    const out = lines(await run(`cat ${n}/stdout`, { cwd: root.mnt })).sort();
    expect(out).toHaveLength(2);
    for (const l of out) expect(l).toMatch(/^[01] failed: barrier failed: a subjob was lost: /);
    expect(await run(`cat ${n}/barrier`, { cwd: root.mnt })).toMatch(/^2 4 Failed 'a subjob was lost/);
  });
});

describe.skipIf(fuseMissing)('co-allocation: a child with no FUSE, and bad input', () => {
  afterAll(stopAll);

  it('three levels: a leaf on the grandchild reaches the root through its parent, one hop a level', async () => {
    const grandchild = await startIsolatedMount(['--slots', '2']);
    const middle = await startIsolatedMount(['--slots', '2', '--remote', grandchild.addr]);
    const root = await startMount(['--remote', middle.addr]);
    const n = await launch(
      root,
      'res 2',
      `echo "$TASKFS_RANK $(cat $TASKFS_ROOT/topology)"
cat $TASKFS_SESSION/barrier && echo hi-$TASKFS_RANK > $TASKFS_ROOT/ranks/$(( 1 - TASKFS_RANK ))/mbox/x
echo "$TASKFS_RANK got $(cat $TASKFS_SESSION/mbox/x)"`,
    );
    expect(lines(await run(`cat ${n}/stdout`, { cwd: root.mnt })).sort()).toEqual([
      '0 0/0/0 0/0/1',
      '0 got hi-1',
      '1 0/0/0 0/0/1',
      '1 got hi-0',
    ]);
  });

  it('leaves of a serve-only node read and write the root session with taskfs 9p', async () => {
    const child = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', child.addr]);
    const n = await launch(
      root,
      'res 2',
      `T="${taskfsBin} 9p"
if [ $TASKFS_RANK = 1 ]; then echo "hello from 1" | $T write $TASKFS_ROOT/ranks/0/mbox/t; fi
if [ $TASKFS_RANK = 0 ]; then echo "0 got $($T read $TASKFS_SESSION/mbox/t) in $($T read $TASKFS_ROOT/topology)"; fi`,
    );
    expect(await run(`cat ${n}/stdout`, { cwd: root.mnt })).toBe('0 got hello from 1 in 0/0 0/1\n');
    expect(await run(`cat ${n}/stderr`, { cwd: root.mnt })).toBe('');
  });

  it('rmdir of a local leaf, at the node root or in its parent, drops it from the request', async () => {
    const d = await startMount(['--slots', '4']);
    const n = (await run('cat clone', { cwd: d.mnt })).trim();
    await run(`echo res 4 > ${n}/ctl`, { cwd: d.mnt });
    const leaf = (await run(`sed -n 2p ${n}/status`, { cwd: d.mnt })).split(' ')[0]!.split('/')[1]!;
    await run(`rmdir ${leaf} && rmdir ${n}/0`, { cwd: d.mnt });
    expect(await run(`cat ${n}/topology; echo; ls -d [0-9]* | wc -l`, { cwd: d.mnt })).toBe('0 1\n3\n');
    await run(`cat > ${n}/ctl <<'EOF'\nexec sh -c 'echo $TASKFS_RANK/$TASKFS_SIZE'\nEOF`, { cwd: d.mnt });
    expect(lines(await run(`cat ${n}/stdout`, { cwd: d.mnt })).sort()).toEqual(['0/2', '1/2']);
  });

  it('bad input fails with a clear errno and reason, and disturbs nothing', async () => {
    const d = await startMount(['--slots', '4']);
    const fails = async (script: string) => {
      const r = await sh(script, { cwd: d.mnt });
      expect(r.code).not.toBe(0);
      return r.stderr + r.stdout;
    };
    const n = (await run('cat clone', { cwd: d.mnt })).trim();
    await run(`echo res 2 > ${n}/ctl`, { cwd: d.mnt });
    expect(await fails(`/bin/echo release > ${n}/ctl`)).toContain('Invalid argument');
    expect(await run(`cat ${n}/err`, { cwd: d.mnt })).toMatch(/release: no barrier pending/);
    expect(await fails(`/bin/echo drop 5 > ${n}/ctl`)).toContain('No such file');
    expect(await run(`cat ${n}/err`, { cwd: d.mnt })).toMatch(/drop: session \d+ has no child 5/);
    expect(await fails(`/bin/echo res 1@nowhere > $(cat clone)/ctl`)).toContain('No such file');
    await run(`cat > ${n}/ctl <<'EOF'\nexec sh -c 'cat $TASKFS_SESSION/barrier; cat $TASKFS_SESSION/mbox/t'\nEOF`, {
      cwd: d.mnt,
    });
    expect(await fails(`/bin/echo barrier manual > ${n}/ctl`)).toContain('Device or resource busy');
    expect(await run(`cat ${n}/err`, { cwd: d.mnt })).toMatch(/before the first exec/);
    expect(await fails(`/bin/echo x > ${n}/ranks/9/mbox/t`)).toMatch(/No such file|nonexistent/);
    expect(await fails(`/bin/echo x > ${n}/ranks/0/mbox/a/b`)).toMatch(/Not a directory|No such file|nonexistent/);
    expect(await fails(`dd if=/dev/zero bs=70000 count=1 of=${n}/ranks/0/mbox/big 2>&1`)).toContain('Message too long');
    // A full box refuses its sender; what it holds is still delivered whole.
    const full = await sh(
      `i=0; while dd if=/dev/zero bs=65536 count=1 of=${n}/ranks/1/mbox/fill 2>/dev/null; do i=$((i+1)); done; echo $i; dd if=/dev/zero bs=1 count=1 of=${n}/ranks/1/mbox/fill`,
      { cwd: d.mnt },
    );
    expect(full.stdout.trim()).toBe('64');
    expect(full.stderr).toContain('No space left on device');
    expect((await run(`cat ${n}/ranks/1/mbox/fill | wc -c`, { cwd: d.mnt })).trim()).toBe('65536');
    // Nothing else was disturbed: the barrier releases, messages arrive.
    await run(`echo hello > ${n}/ranks/0/mbox/t; echo hello > ${n}/ranks/1/mbox/t`, { cwd: d.mnt });
    expect(await run(`cat ${n}/stdout`, { cwd: d.mnt })).toBe('hello\nhello\n');
    expect(await run(`cat ${n}/barrier`, { cwd: d.mnt })).toBe('2 2 Released\n');
  });
});
