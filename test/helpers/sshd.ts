/**
 * A private sshd for tests and the bench: its own host and user keys, made
 * in a temp dir, its own sshd_config (no PAM, keys only, root by key only
 * here), on a free loopback port; and an ssh client config with aliases
 * h1..hN for it, with its own known_hosts. Nothing of the machine's own ssh
 * setup (/etc/ssh, ~/.ssh) is read or changed: give `env` (TASKFS_SSH) to
 * taskfs, or `-F config` to ssh.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface Sshd {
  dir: string;
  port: number;
  /** The ssh client config with the aliases. */
  config: string;
  /** For a taskfs daemon: TASKFS_SSH, ssh with this config. */
  env: Record<string, string>;
  proc: ChildProcess;
  /** Processes below sshd (sessions and what they run), not sshd itself. */
  descendants(): number[];
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Aliases h1..hN for 127.0.0.1 at the sshd's port (default 3). */
  hosts?: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function keygen(file: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'taskfs-test', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

function sshdPath(): string {
  // sshd re-executes itself, so it must be started by its absolute path.
  return execFileSync('sh', ['-c', 'command -v sshd'], { encoding: 'utf8' }).trim();
}

async function listening(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy(); // else sshd keeps a session waiting for our banner
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'taskfs-sshd-'));
  // The privilege separation directory sshd insists on; harmless to make.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = keygen(join(dir, 'host_key'));
  const userKey = keygen(join(dir, 'user_key'));
  keygen(join(dir, 'other_host_key')); // a key the "wrong host key" alias expects instead
  writeFileSync(join(dir, 'authorized_keys'), `${userKey}\n`, { mode: 0o600 });
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  mkdirSync(join(dir, 'home'), { mode: 0o700 });
  const port = await freePort();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      // The temp dir is below /tmp, which is world-writable.
      'StrictModes no',
      // Many hosts connect at once to this one sshd (bench: 16).
      'MaxStartups 200',
      // Sessions live in the temp dir: the remote nodes' state is not put in
      // ~/.local/state, and the remote shell does not run the user's ~/.bashrc
      // (whose tools, pyenv say, can take seconds and fight over locks when
      // sixteen sessions start at once).
      `SetEnv HOME=${join(dir, 'home')} XDG_STATE_HOME=${join(dir, 'state')}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const aliases = Array.from({ length: opts.hosts ?? 3 }, (_, i) => `h${i + 1}`);
  const common = (knownHosts: string, at = port) => [
    '  HostName 127.0.0.1',
    `  Port ${at}`,
    `  User ${userInfo().username}`,
    `  IdentityFile ${join(dir, 'user_key')}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  LogLevel ERROR',
  ];
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  const otherKey = readFileSync(join(dir, 'other_host_key.pub'), 'utf8').trim();
  writeFileSync(join(dir, 'wrong_known_hosts'), `[127.0.0.1]:${port} ${otherKey}\n`);
  const config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    [
      `Host ${aliases.join(' ')}`,
      ...common(join(dir, 'known_hosts')),
      // The same sshd, but we expect another host key: ssh must refuse it.
      'Host hbadkey',
      ...common(join(dir, 'wrong_known_hosts')),
      // Nobody listens on port 1: the connection is refused.
      'Host hrefused',
      ...common(join(dir, 'known_hosts'), 1),
      '',
    ].join('\n'),
  );

  const proc = spawn(sshdPath(), ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (c) => (log += c));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    await Promise.race([listening(port, 10_000), exited.then(() => Promise.reject(new Error(`sshd exited: ${log}`)))]);
  } catch (err) {
    proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    dir,
    port,
    config,
    env: { TASKFS_SSH: `ssh -F ${config}` },
    proc,
    descendants: () => descendantsOf(proc.pid!),
    async stop() {
      // The sessions first (by pid, the daemons' remote ends), then sshd;
      // SIGTERM first, so that what they run can clean up.
      for (const pid of descendantsOf(proc.pid!)) signal(pid, 'SIGTERM');
      if (descendantsOf(proc.pid!).length > 0) await new Promise((r) => setTimeout(r, 2000));
      for (const pid of descendantsOf(proc.pid!)) signal(pid, 'SIGKILL');
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** Every live process below `root`, by parent links in /proc (zombies left out). */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z') continue;
    const list = children.get(Number(ppid)) ?? [];
    list.push(Number(entry));
    children.set(Number(ppid), list);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}
