/**
 * A child node whose leaves cannot see the root's mount: `taskfs mount`
 * started in a private mount namespace (`unshare -m --propagation
 * private`), listening on loopback. Start these before the root mounts:
 * a mount made after the unshare never reaches the namespace.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from './daemon.js';
import { requirePrograms } from './programs.js';

export async function startIsolatedMount(args: string[] = []): Promise<Daemon & { addr: string }> {
  requirePrograms('unshare');
  const dir = await mkdtemp(join(tmpdir(), 'taskfs-isolated-'));
  const mnt = join(dir, 'mnt');
  const argv = ['mount', mnt, '--workdir', join(dir, 'work'), '--listen', 'tcp!127.0.0.1!0', ...args];
  const d = await startDaemon(argv, dir, mnt, /listening on (\S+)\)/, {
    wrap: ['unshare', '-m', '--propagation', 'private'],
  });
  return Object.assign(d, { addr: /listening on (\S+)\)/.exec(d.stderr())![1]! });
}
