/**
 * The README's "A worked session" through a real FUSE mount, driven by sh,
 * and the files and verbs of "A session" and "ctl verbs".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import { pidsMatching, run, sh, startMount, stopAll, until, type Daemon } from '../helpers/daemon.js';

describe.skipIf(fuseMissing)('a session through FUSE', () => {
  beforeAll(() => requirePrograms('tree', 'pgrep', 'ps', 'hostname'));
  let d: Daemon;
  beforeAll(async () => {
    d = await startMount(['--slots', '4']);
  });
  afterAll(stopAll);

  it('clone, res 4, exec hostname, stdio, status, wait, tree', async () => {
    expect(await run('cat clone', { cwd: d.mnt })).toBe('0');
    await run('cd 0 && echo res 4 > ctl', { cwd: d.mnt });
    const names = (await run('ls 0', { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(names).toEqual([
      '0',
      '1',
      '2',
      '3',
      'args',
      'barrier',
      'ctl',
      'env',
      'err',
      'fs',
      'import',
      'mbox',
      'ns',
      'ranks',
      'status',
      'stderr',
      'stdin',
      'stdio',
      'stdout',
      'topology',
      'wait',
    ]);

    const modes = Object.fromEntries(
      (await run('ls -l 0 | tail -n +2', { cwd: d.mnt }))
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/))
        .map((w) => [w[8], w[0]]),
    );
    expect(modes).toMatchObject({
      ctl: '-rw-rw----',
      args: '-rw-rw----',
      env: '-rw-rw----',
      ns: '-rw-rw----',
      stdin: '--w--w--w-',
      stdout: '-r--r--r--',
      stderr: '-r--r--r--',
      stdio: '-rw-rw----',
      status: '-r--r--r--',
      wait: '-r--r--r--',
      topology: '-r--r--r--',
      err: '-r--r--r--',
      0: 'dr-xr-xr-x',
      3: 'dr-xr-xr-x',
    });

    const host = hostname();
    const out = await run('cd 0 && echo exec hostname > ctl && cat stdio', { cwd: d.mnt });
    expect(out).toBe(`${host}\n`.repeat(4));

    const status = (await run('cat 0/status', { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(status).toHaveLength(4);
    for (const line of status) expect(line).toMatch(/^cmd\/\d+ \d+ Done \S+ hostname$/);

    const wait = (await run('cat 0/wait', { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(wait).toHaveLength(4);
    for (const line of wait) expect(line).toMatch(/^\d+ \d+ \d+ \d+ ''$/);

    expect(await run('cat 0/topology', { cwd: d.mnt })).toBe('0 1 2 3');
    const tree = await run(`tree ${d.mnt}`);
    expect(tree).toMatch(/── 0\n(.|\n)*── 3\n(.|\n)*stdout/);
    expect(tree).toContain('clone');
  });

  it('closing the clone handle kills and releases; the session stays Closed', async () => {
    const marker = 'sleep 1000.4242';
    // fd 3 holds the clone open across the writes, as a program would.
    const n = (
      await run(
        `exec 3<>clone; read -r n <&3; echo "$n"; echo 'res 2' >&3; echo 'exec ${marker}' >&3; sleep 0.2; pgrep -cxf '${marker}' >&2; exec 3>&-`,
        { cwd: d.mnt },
      )
    ).trim();
    await until(async () => (await pidsMatching(`^${marker}$`)).length === 0, 1000);
    const ls = (await run('ls', { cwd: d.mnt })).split('\n');
    expect(ls).toContain(n);
    expect(await run(`cat ${n}/status`, { cwd: d.mnt })).toMatch(new RegExp(`^cmd/${n} 0 Closed \\S+ ''\\n$`));
    expect(await run(`ls ${n} | grep -c '^[0-9]' || true`, { cwd: d.mnt })).toBe('0\n');
  });

  it('exec with no res runs once in the session itself', async () => {
    const out = await run(
      'cd $(cat clone) && echo exec echo alone > ctl && cat stdout && cat topology && echo && cat status',
      { cwd: d.mnt },
    );
    expect(out).toMatch(/^alone\n\ncmd\/\d+ \d+ Done \S+ echo\n$/);
  });

  it('siblings talk through $TASKFS_PARENT', async () => {
    // The ctl line is Plan 9 quoted; the quoted heredoc keeps sh from expanding it.
    const out = await run(
      `cd $(cat clone) && echo res 2 > ctl && cat > ctl <<'EOF'
exec sh -c 'if [ "$TASKFS_RANK" = 0 ]; then echo hello-from-0 > "$TASKFS_PARENT/1/stdin"; else read line; echo "rank $TASKFS_RANK of $TASKFS_SIZE got $line"; fi'
EOF
cat stdout`,
      { cwd: d.mnt },
    );
    expect(out).toBe('rank 1 of 2 got hello-from-0\n');
  });

  it('blocking reads block only their reader', async () => {
    const n = (
      await run(`n=$(cat clone); echo "$n"; echo 'res 2' > $n/ctl; echo 'exec cat' > $n/ctl`, { cwd: d.mnt })
    ).trim(); // the leaves run until their stdin ends: however slow the machine, they are running below
    const waiters = Array.from({ length: 20 }, () => sh(`cat ${n}/wait`, { cwd: d.mnt }));
    let finished = 0;
    for (const w of waiters) void w.then(() => finished++);
    await new Promise((r) => setTimeout(r, 300));
    // While twenty readers block, the rest of the mount answers.
    expect(await run('ls', { cwd: d.mnt })).toContain(n);
    expect((await run(`cat ${n}/status`, { cwd: d.mnt })).match(/ Execute /g)).toHaveLength(2);
    expect(finished).toBe(0);
    await run(`echo eof > ${n}/ctl`, { cwd: d.mnt });
    const results = await Promise.all(waiters);
    for (const r of results) expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    // After the end, wait answers at once.
    expect((await run(`cat ${n}/wait`, { cwd: d.mnt })).split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('env, args, dir and nice reach the process', async () => {
    const out = await run(
      `cd $(cat clone) && echo 'GREETING=hi there' > env && cat > args <<'EOF'
sh -c 'echo "$GREETING from $(pwd)"; ps -o ni= -p $$'
EOF
echo 'dir /tmp' > ctl && echo 'nice 5' > ctl && echo exec > ctl && cat stdout`,
      { cwd: d.mnt },
    );
    expect(out.split('\n')[0]).toBe('hi there from /tmp');
    expect(out.split('\n')[1]!.trim()).toBe('5');
  });

  it('each leaf runs in a directory of its own, made for it and removed with the session', async () => {
    const n = (
      await run('n=$(cat clone); echo "$n"; echo res 2 > $n/ctl; echo exec pwd > $n/ctl', { cwd: d.mnt })
    ).trim();
    const dirs = (await run(`cat ${n}/wait >/dev/null; cat ${n}/stdout`, { cwd: d.mnt })).split('\n').filter(Boolean);
    expect(dirs).toHaveLength(2);
    expect(new Set(dirs).size).toBe(2);
    for (const dir of dirs) expect(dir.startsWith(`${d.dir}/`)).toBe(true);
    expect((await sh(`ls -d ${dirs.join(' ')}`)).code).toBe(0);
    await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
    expect((await sh(`ls -d ${dirs.join(' ')}`)).code).not.toBe(0);
  });

  it('eof closes stdin; signal and kill reach the process group', async () => {
    expect(
      await run(
        `cd $(cat clone) && echo exec cat > ctl && echo piped > stdin && echo eof > ctl && cat stdout && cat wait`,
        { cwd: d.mnt },
      ),
    ).toMatch(/^piped\n\d+ \d+ \d+ \d+ ''\n$/);
    expect(
      await run(`cd $(cat clone) && echo exec sleep 100 > ctl && echo signal USR1 > ctl && cat wait`, { cwd: d.mnt }),
    ).toMatch(/^\d+ \d+ \d+ \d+ 'signal: 10'\n$/);
    expect(
      await run(
        `cd $(cat clone) && cat > ctl <<'EOF'
exec sh -c 'trap "" TERM; sleep 100'
EOF
echo kill > ctl && cat wait`,
        { cwd: d.mnt },
      ),
    ).toMatch(/^\d+ \d+ \d+ \d+ killed\n$/);
  });

  it('wipe and rmdir remove a session and its leaves', async () => {
    const n = (await run(`n=$(cat clone); echo $n; echo res 2 > $n/ctl`, { cwd: d.mnt })).trim();
    const before = (await run('ls', { cwd: d.mnt })).split('\n').filter((x) => /^\d+$/.test(x)).length;
    await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
    const after = (await run('ls', { cwd: d.mnt })).split('\n').filter((x) => /^\d+$/.test(x)).length;
    expect(after).toBe(before - 3);
    const m = (await run(`n=$(cat clone); echo $n; echo res 1 > $n/ctl`, { cwd: d.mnt })).trim();
    await run(`rmdir ${m}`, { cwd: d.mnt });
    expect((await run('ls', { cwd: d.mnt })).split('\n')).not.toContain(m);
  });

  it('splice and xsplice carry bytes between sessions and leaves', async () => {
    const a = (
      await run(`n=$(cat clone); echo $n; echo exec seq 1 5 > $n/ctl; cat $n/wait >/dev/null`, { cwd: d.mnt })
    ).trim();
    const out = await run(
      `cd $(cat clone) && echo exec wc -l > ctl && echo splice ../${a}/stdout > ctl && cat stdout`,
      { cwd: d.mnt },
    );
    expect(out.trim()).toBe('5');
    const x = await run(
      `cd $(cat clone) && echo res 2 > ctl && cat > ctl <<'EOF'
exec sh -c 'if [ $TASKFS_RANK = 0 ]; then echo one; echo two; else tr a-z A-Z; fi'
xsplice 0 1
EOF
cat 1/stdout`,
      { cwd: d.mnt },
    );
    expect(x).toBe('ONE\nTWO\n');
  });
});
