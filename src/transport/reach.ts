/**
 * How the command line gives a node its ways of reaching children beyond
 * TCP and unix sockets (README "SSH and hostlists"): `ssh!` addresses
 * anywhere an address is taken (`--remote`, `mount ADDR NAME`, `ns`), and
 * `--hosts`, one ssh child per host, connected all at once.
 */
import type { TaskNode } from '../taskfs/node.js';
import { formatSshAddress, isSshAddress, parseSshAddress, sshChildName, SshTransport, type SshOptions } from './ssh.js';

/** Makes `node` dial `ssh!` addresses through ssh; close the result after the node has stopped. */
export function reachBySsh(node: TaskNode, opts: SshOptions): SshTransport {
  const ssh = new SshTransport(opts);
  const dialDirect = node.connectChild;
  node.connectChild = (name, addr) => (isSshAddress(addr) ? ssh.connect(name, addr) : dialDirect(name, addr));
  return ssh;
}

/** The name a child at an ssh address gets when none is given; undefined for other addresses. */
export function sshName(addr: string): string | undefined {
  return isSshAddress(addr) ? sshChildName(parseSshAddress(addr)) : undefined;
}

/**
 * One ssh child per host of an expanded hostlist (hostlist.ts), all dialed
 * at once. A host that fails is reported in one line through `report` and
 * listed as down in `ns` and `status`; the others come up. Resolves with
 * how many came up.
 */
export async function mountHosts(
  node: TaskNode,
  hosts: readonly string[],
  report: (line: string) => void,
): Promise<number> {
  const targets = hosts.map((host) => parseSshAddress(`ssh!${host}`));
  const errors = await node.mountChildren(targets.map((t) => ({ addr: formatSshAddress(t), name: sshChildName(t) })));
  for (const e of errors) if (e) report(e.message.replace(/\s*\n\s*/g, ' '));
  return errors.filter((e) => !e).length;
}
