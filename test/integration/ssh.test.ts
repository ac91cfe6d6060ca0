/**
 * Child nodes over SSH (README "SSH and hostlists"), against a private sshd
 * on a loopback port with keys this suite makes (test/helpers/sshd.ts) and
 * ssh aliases h1 h2 h3 for it: the remote nodes are real `taskfs serve
 * --stdio` processes started by sshd, found below its pid.
 */
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { requirePrograms } from '../helpers/programs.js';
import { repo, run, sh, startMount, startServe, stopAll, taskfsBin, until } from '../helpers/daemon.js';
import { descendantsOf, startSshd, type Sshd } from '../helpers/sshd.js';

const lines = (text: string) => text.split('\n').filter(Boolean);
const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
};

describe.skipIf(fuseMissing)('child nodes over ssh', () => {
  let sshd: Sshd;
  let scratch: string;
  /** What runs below the private sshd and matches `re`: the remote ends. */
  const remote = (re: RegExp) => sshd.descendants().filter((p) => re.test(commandOf(p)));
  const remoteNodes = () => remote(/^taskfs serve --stdio/);

  beforeAll(async () => {
    requirePrograms('sshd', 'ssh', 'ssh-keygen');
    sshd = await startSshd({ hosts: 3 });
    scratch = await mkdtemp(join(tmpdir(), 'taskfs-ssh-test-'));
  });
  afterEach(stopAll);
  afterAll(async () => {
    await sshd?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("--hosts 'h[1-3]': three nodes, six Done leaves; a killed ssh is a Lost node whose remote end goes; unmount leaves nothing", async () => {
    const root = await startMount(['--hosts', 'h[1-3]', '--ssh-taskfs', taskfsBin, '--slots', '0'], {
      env: sshd.env,
    });
    expect(lines(await run('ls nodes', { cwd: root.mnt }))).toEqual(['h1', 'h2', 'h3']);
    expect(lines(await run('cat ns', { cwd: root.mnt }))).toEqual([
      'mount ssh!h1 h1',
      'mount ssh!h2 h2',
      'mount ssh!h3 h3',
    ]);
    expect(remoteNodes()).toHaveLength(3);

    const out = lines(
      await run(
        'n=$(cat clone); echo res 6 > $n/ctl; echo exec hostname > $n/ctl; cat $n/wait >/dev/null; cat $n/status; cat $n/stdout; echo wipe > $n/ctl',
        {
          cwd: root.mnt,
        },
      ),
    );
    const hostname = (await run('hostname')).trim();
    expect(out).toHaveLength(12);
    for (const l of out.slice(0, 6)) expect(l).toMatch(/^cmd\/\d+ \d+ Done \S+ hostname$/);
    expect(out.slice(6)).toEqual(Array(6).fill(hostname));

    // One sleeper per host; then h2's ssh client dies.
    const m = `${1000 + Math.floor(Math.random() * 9000)}.${process.pid}`;
    const n = (
      await run(`n=$(cat clone); echo $n; echo res 3 > $n/ctl; echo exec sleep ${m} > $n/ctl`, { cwd: root.mnt })
    ).trim();
    expect(remote(new RegExp(`^sleep ${m}$`))).toHaveLength(3);
    const h2 = descendantsOf(root.proc.pid!).filter((p) => / -- h2 /.test(commandOf(p)));
    expect(h2).toHaveLength(1);
    process.kill(h2[0]!, 'SIGKILL');

    const status = await until(async () => {
      const s = await run(`cat ${n}/status`, { cwd: root.mnt });
      return (s.match(/ Lost /g) ?? []).length === 1 ? s : undefined;
    }, 15_000);
    expect(status.match(/ Execute /g)).toHaveLength(2);
    // Its remote serve --stdio and its leaf end within 15 s; the others run on.
    await until(async () => remoteNodes().length === 2 && remote(new RegExp(`^sleep ${m}$`)).length === 2, 15_000, 200);
    expect(lines(await run('ls nodes', { cwd: root.mnt }))).toEqual(['h1', 'h3']);
    const ns = lines(await run('cat ns', { cwd: root.mnt }));
    expect(ns.slice(0, 2)).toEqual(['mount ssh!h1 h1', 'mount ssh!h3 h3']);
    expect(ns[2]).toMatch(/^# down h2 lost: h2: .*ssh killed by SIGKILL/);

    // Unmounting (the daemon stops) leaves no process on the hosts.
    expect(await root.stop()).toBe(0);
    await until(async () => sshd.descendants().length === 0, 15_000, 200);
  });

  it('an unknown host, a refused connection and a host key that does not match: one line each, the others come up, ns and status say which', async () => {
    const root = await startMount(
      ['--hosts', 'h1,nosuch.invalid,hrefused,hbadkey', '--ssh-taskfs', taskfsBin, '--slots', '0'],
      {
        env: sshd.env,
      },
    );
    const failures = root
      .stderr()
      .split('\n')
      .filter((l) => / ssh!/.test(l));
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatch(
      /^taskfs: mount ssh!nosuch\.invalid: ssh: Could not resolve hostname nosuch\.invalid: /,
    );
    expect(failures[1]).toBe('taskfs: mount ssh!hrefused: ssh: connect to host 127.0.0.1 port 1: Connection refused');
    expect(failures[2]).toBe('taskfs: mount ssh!hbadkey: Host key verification failed.');
    expect(lines(await run('ls nodes', { cwd: root.mnt }))).toEqual(['h1']);
    const status = lines(await run('cat status', { cwd: root.mnt }));
    expect(status[0]).toMatch(/^\d+ Linux /);
    expect(status.slice(1)).toEqual([
      expect.stringMatching(/^down nosuch\.invalid mount ssh!nosuch\.invalid: ssh: Could not resolve hostname/),
      'down hrefused mount ssh!hrefused: ssh: connect to host 127.0.0.1 port 1: Connection refused',
      'down hbadkey mount ssh!hbadkey: Host key verification failed.',
    ]);
    const ns = await run('cat ns', { cwd: root.mnt });
    expect(lines(ns)[0]).toBe('mount ssh!h1 h1');
    expect(lines(ns)[3]).toBe('# down hbadkey mount ssh!hbadkey: Host key verification failed.');

    // The same through the node ctl: refused with EACCES, listed as down.
    const again = await sh('/bin/echo mount ssh!hbadkey bad2 > ctl', { cwd: root.mnt });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Permission denied');
    expect(await run('grep bad2 status', { cwd: root.mnt })).toBe(
      'down bad2 mount ssh!hbadkey: Host key verification failed.\n',
    );
    const injected = await sh("/bin/echo mount 'ssh!-oProxyCommand=touch /tmp/x' evil > ctl", { cwd: root.mnt });
    expect(injected.stderr).toContain('Invalid argument');
    // ns, with its comment lines, can be written back: nothing is mounted twice.
    await run('echo unmount bad2 > ctl; grep -v "^mount" ns > ../ns.saved; cat ../ns.saved > ns', { cwd: root.mnt });
    expect(await run('grep -c down status', { cwd: root.mnt })).toBe('3\n');

    // Nothing else was disturbed: h1 runs.
    const out = await run(
      'n=$(cat clone); echo res 2 > $n/ctl; echo exec hostname > $n/ctl; cat $n/wait > /dev/null; cat $n/status',
      { cwd: root.mnt },
    );
    expect(lines(out).filter((l) => / Done /.test(l))).toHaveLength(2);
  });

  it('a remote taskfs of another version, or none, is refused with one line saying so', async () => {
    // Another version of taskfs: this build with another package.json.
    const other = join(scratch, 'other');
    await mkdir(other);
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8'));
    await writeFile(join(other, 'package.json'), JSON.stringify({ ...pkg, version: '0.0.1-other' }));
    await cp(join(repo, 'dist'), join(other, 'dist'), { recursive: true });
    await cp(join(repo, 'bin'), join(other, 'bin'), { recursive: true });
    await symlink(join(repo, 'build'), join(other, 'build'));
    await symlink(join(repo, 'node_modules'), join(other, 'node_modules'));

    const old = await startServe(['--hosts', 'h1', '--ssh-taskfs', join(other, 'bin/taskfs'), '--slots', '1'], {
      env: sshd.env,
    });
    expect(old.stderr()).toContain(
      `taskfs: mount ssh!h1: taskfs there is version 0.0.1-other, here ${pkg.version}: install the same version on both\n`,
    );
    const none = await startServe(['--hosts', 'h1', '--ssh-taskfs', '/nonexistent/taskfs', '--slots', '1'], {
      env: sshd.env,
    });
    expect(none.stderr()).toMatch(
      /taskfs: mount ssh!h1: no taskfs at \/nonexistent\/taskfs on h1 \(give --ssh-taskfs PATH\): .*(No such file or directory|not found)\n/,
    );
    // The refused remote node stopped: nothing is left below sshd.
    await until(async () => remoteNodes().length === 0, 10_000, 200);
  });

  it('a SIGKILLed daemon leaves nothing on the hosts: each ssh sees its stdin close', async () => {
    const root = await startMount(['--hosts', 'h[1-2]', '--ssh-taskfs', taskfsBin, '--slots', '0'], {
      env: sshd.env,
    });
    const m = `${1000 + Math.floor(Math.random() * 9000)}.${process.pid}`;
    await run(`n=$(cat clone); echo res 2 > $n/ctl; echo exec sleep ${m} > $n/ctl`, { cwd: root.mnt });
    expect(remote(new RegExp(`^sleep ${m}$`))).toHaveLength(2);
    root.proc.kill('SIGKILL');
    await until(async () => sshd.descendants().length === 0, 15_000, 200);
  });

  it('a hostlist that does not parse is a usage error before anything starts', async () => {
    const r = await sh(`${taskfsBin} serve --stdio --hosts 'h[1-2],node[3-1]' < /dev/null`, { env: sshd.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^taskfs serve: bad hostlist 'node\[3-1\]': range 3-1 goes down \(write 1-3\)\n/);
    expect(remoteNodes()).toHaveLength(0);
  });
});
