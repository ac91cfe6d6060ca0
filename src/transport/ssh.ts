/**
 * Child nodes over SSH (README "SSH and hostlists"): `ssh![user@]host[!port]`
 * runs `TASKFS serve --stdio` on the host through the system `ssh` (the
 * user's keys, agent and ssh config apply; BatchMode, so never a password
 * prompt), and 9P goes over the channel. No port is opened on the host,
 * and the remote node ends with the channel.
 */
import { FsError } from '../ns/errors.js';
import { ChildNode } from '../nodes/child-node.js';
import { earlyExitError, StdioChannel, type EarlyExit } from './stdio-channel.js';

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
}

export interface SshOptions {
  /** The ssh command, program and leading arguments (TASKFS_SSH; default `ssh`). */
  command: readonly string[];
  /** `-o OPTION` for each (--ssh-option). */
  options: readonly string[];
  /** Where taskfs is on the hosts (--ssh-taskfs; default `taskfs`, looked up on the remote PATH). */
  taskfs: string;
  /** The version the remote taskfs must be: this one's. */
  version: string;
  /** Time for ssh to connect and the remote node to start (many at once share two cores). */
  readyTimeoutMs: number;
}

const NAME = /^[A-Za-z0-9_][\w.-]*$/;

export function isSshAddress(addr: string): boolean {
  return addr.startsWith('ssh!');
}

/** `ssh![user@]host[!port]`; host and user may not start with '-' (they would be ssh options). */
export function parseSshAddress(addr: string): SshTarget {
  const bad = (why: string): never => {
    throw new FsError('EINVAL', `bad ssh address '${addr}': ${why} (use ssh![user@]host[!port])`);
  };
  if (!isSshAddress(addr)) bad('it does not start with ssh!');
  const [where = '', port, ...more] = addr.slice(4).split('!');
  if (more.length > 0) bad('too many !');
  const at = where.lastIndexOf('@');
  const user = at < 0 ? undefined : where.slice(0, at);
  const host = where.slice(at + 1);
  if (user !== undefined && !NAME.test(user)) bad(`bad user '${user}'`);
  if (!/^[A-Za-z0-9_[][\w.:[\]-]*$/.test(host)) bad(host === '' ? 'no host' : `bad host '${host}'`);
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535))
    bad(`bad port '${port}'`);
  return { user, host, port: port === undefined ? undefined : Number(port) };
}

export function formatSshAddress(t: SshTarget): string {
  return `ssh!${t.user ? `${t.user}@` : ''}${t.host}${t.port ? `!${t.port}` : ''}`;
}

/** The child's name for `--remote ssh!...` and `--hosts`: the host, and the port when one is given. */
export function sshChildName(t: SshTarget): string {
  return (t.port ? `${t.host}-${t.port}` : t.host).replace(/[^\w.-]/g, '_');
}

/**
 * The ssh command line. BatchMode first (ssh takes the first value of an
 * option), then the user's options, then our defaults, which theirs
 * override: keepalives so that a dead link ends ssh within 15 s, and a
 * connect timeout (the remote node's start has readyTimeoutMs in all).
 */
export function sshArgv(t: SshTarget, opts: SshOptions): string[] {
  const o = (kv: string) => ['-o', kv];
  return [
    ...opts.command,
    '-T',
    ...o('BatchMode=yes'),
    ...opts.options.flatMap(o),
    ...o('ServerAliveInterval=5'),
    ...o('ServerAliveCountMax=3'),
    ...o('ConnectTimeout=15'),
    ...(t.user ? ['-l', t.user] : []),
    ...(t.port ? ['-p', String(t.port)] : []),
    '--',
    t.host,
    `${shellWord(opts.taskfs)} serve --stdio`,
  ];
}

/** A word for the remote shell: single quoted, a leading ~/ left to expand. */
function shellWord(path: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return path.startsWith('~/') ? `~/${q(path.slice(2))}` : q(path);
}

/** Connects a child node named `name` at `addr` (an ssh address) and tracks its channel. */
export class SshTransport {
  private readonly channels = new Set<StdioChannel>();

  constructor(private readonly opts: SshOptions) {}

  async connect(name: string, addr: string): Promise<ChildNode> {
    const target = parseSshAddress(addr);
    let started: Awaited<ReturnType<typeof StdioChannel.start>>;
    try {
      started = await StdioChannel.start(sshArgv(target, this.opts), {
        label: name,
        readyTimeoutMs: this.opts.readyTimeoutMs,
      });
    } catch (err) {
      throw earlyExitError(err, (e) => new FsError(errorCode(e), `mount ${addr}: ${this.earlyReason(target, e)}`));
    }
    const { channel, version } = started;
    this.channels.add(channel);
    void channel.exited.then(() => this.channels.delete(channel));
    if (version !== this.opts.version) {
      await channel.close();
      throw new FsError(
        'EIO',
        `mount ${addr}: taskfs there is version ${version}, here ${this.opts.version}: install the same version on both`,
      );
    }
    const stream = channel.stream((line, code, signal) =>
      [`ssh ${signal ? `killed by ${signal}` : `exited ${code}`}`, line].filter(Boolean).join(': '),
    );
    // ssh authenticated both ends: the 9P connection inside needs no key.
    return ChildNode.overStream(name, addr, stream, { key: undefined });
  }

  /** Waits for every ssh this transport started to exit (the node closed their channels first). */
  async close(): Promise<void> {
    await Promise.all([...this.channels].map((c) => c.close()));
  }

  private earlyReason(t: SshTarget, e: EarlyExit): string {
    const said = e.lastLine;
    if (e.spawnError) return `cannot run ${this.opts.command[0]}: ${e.spawnError.message} (install openssh-client)`;
    if (e.timedOut) return `no taskfs node within ${this.opts.readyTimeoutMs / 1000} s${said ? ` (${said})` : ''}`;
    // 255 is ssh's own failure: what it printed says it best.
    if (e.code === 255) return said || 'ssh failed';
    if (e.code === 127) return `no taskfs at ${this.opts.taskfs} on ${t.host} (give --ssh-taskfs PATH): ${said}`;
    if (e.code === 126) return `${this.opts.taskfs} on ${t.host} cannot be run: ${said}`;
    if (/unknown option/i.test(said)) return `taskfs on ${t.host} is another version: ${said}`;
    const how = e.signal ? `killed by ${e.signal}` : `exited ${e.code}`;
    return `taskfs on ${t.host} ${how} before its node was ready${said ? `: ${said}` : ''}`;
  }
}

function errorCode(e: EarlyExit): FsError['code'] {
  if (e.timedOut) return 'ETIMEDOUT';
  if (e.code === 127 || e.spawnError) return 'ENOENT';
  if (/Permission denied|Host key verification failed/.test(e.lastLine)) return 'EACCES';
  return 'EIO';
}
