/**
 * What `mount` and `serve` share: a started node, its 9P listener, its
 * child nodes, and one orderly stop.
 */
import { isIP } from 'node:net';
import { listen, type Listener } from '../ninep/server.js';
import { parseAddress } from '../ninep/address.js';
import { readKeyFile } from '../ninep/keyfile.js';
import { setChildKey } from '../nodes/child-node.js';
import { TaskNode, type NodeOptions } from '../taskfs/node.js';
import { parseHttpAddress, refuseOpenHttp } from '../web/http-address.js';
import type { WebMonitor } from '../web/monitor.js';
import { joinDoor } from '../jobs/join.js';
import type { Scheduler } from '../jobs/scheduler.js';
import { freeWorkdir, startJobs } from './jobs.js';
import { mountHosts, reachBySsh, sshName } from '../transport/reach.js';
import type { SshOptions } from '../transport/ssh.js';
import { mountSlurm, reachBySlurm, type SlurmFlags } from './slurm.js';

export interface RuntimeOptions {
  node: NodeOptions;
  listen?: string;
  /** --http ADDR: the web monitor. */
  http?: string;
  remotes: string[];
  /** --hosts, expanded: one ssh child each. */
  hosts: string[];
  ssh: SshOptions;
  /** --key FILE: the secret 9P clients must prove, and children too. */
  keyFile?: string;
  /** No --workdir was given: another live node's default one is not taken (jobs.ts). */
  defaultWorkdir?: boolean;
  /** --slurm, --slurm-option, --slurm-taskfs. */
  slurm?: SlurmFlags;
}

export interface Runtime {
  node: TaskNode;
  listener?: Listener;
  web?: WebMonitor;
  /** The --key secret, for other ways of serving the node (serve --stdio). */
  key?: Buffer;
  stop(): Promise<void>;
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const key = opts.keyFile === undefined ? undefined : await readKeyFile(opts.keyFile);
  if (opts.listen) refuseOpenListen(opts.listen, key !== undefined);
  if (opts.http) refuseOpenHttp(parseHttpAddress(opts.http), key !== undefined);
  // One node per process: every child it dials (--remote, ctl mount) gets the key.
  setChildKey(key);
  if (opts.defaultWorkdir) opts.node.workdir = freeWorkdir(opts.node.workdir);
  const node = new TaskNode(opts.node);
  const ssh = reachBySsh(node, opts.ssh);
  if (opts.slurm) reachBySlurm(node, opts.slurm);
  await node.start();
  let listener: Listener | undefined;
  let web: WebMonitor | undefined;
  let scheduler: Scheduler | undefined;
  try {
    scheduler = await startJobs(node);
    // Children first, so a parent dialing us sees our whole capacity.
    for (const [i, addr] of opts.remotes.entries()) await node.mountChild(addr, childName(addr, i));
    await mountHosts(node, opts.hosts, (line) => process.stderr.write(`taskfs: ${line}\n`));
    if (opts.slurm) await mountSlurm(node, opts.slurm);
    if (opts.listen) listener = await listen(opts.listen, () => node.root, { key, divert: joinDoor(node, key) });
    if (opts.http) {
      // The web monitor (node:http and its routes) loads only when asked for:
      // every ssh child starts a node, and what it loads is its start (README "Performance").
      const { WebMonitor } = await import('../web/monitor.js');
      web = await WebMonitor.start({ address: opts.http, key, root: () => node.root });
    }
  } catch (err) {
    await listener?.close();
    await scheduler?.stop();
    await node.stop();
    await ssh.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    node,
    listener,
    web,
    key,
    stop: () =>
      (stopping ??= (async () => {
        await web?.close();
        await listener?.close();
        await scheduler?.stop();
        await node.stop();
        await ssh.close();
      })()),
  };
}

/** `--remote ADDR` children are named after their address: tcp!h!p → h-p, ssh!u@h → h. */
function childName(addr: string, i: number): string {
  const viaSsh = sshName(addr);
  if (viaSsh) return viaSsh;
  const a = parseAddress(addr);
  const name = a.kind === 'unix' ? a.path.split('/').pop()! : `${a.host}-${a.port}`;
  return name.replace(/[^\w.-]/g, '_') || `node${i}`;
}

/**
 * README "Authentication": a node listening on anything but loopback refuses to
 * start without authentication. Loopback and unix sockets stay open
 * without a key, so that stock 9P clients (9pfuse) can mount a local node.
 */
function refuseOpenListen(addr: string, haveKey: boolean): void {
  const a = parseAddress(addr);
  if (a.kind === 'unix' || haveKey) return;
  const host = a.host.toLowerCase();
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) {
    throw new Error(
      `refusing to listen on ${addr} without --key: beyond loopback and unix sockets, clients must authenticate (give --key FILE)`,
    );
  }
}
