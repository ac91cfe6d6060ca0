/** `taskfs mount`: a node served through FUSE (and 9P with --listen), in the foreground. */
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { resolve } from 'node:path';
import { FuseMount } from '../fuse/mount.js';
import { isMounted } from '../fuse/mountinfo.js';
import { lazyUnmount, loadFuse } from '../fuse/native.js';
import { parseCommand } from './args.js';
import { expandHome } from './options.js';
import { startRuntime } from './runtime.js';
import { onStopSignals } from './signals.js';

export async function mountCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand('mount', argv, (args) => {
    if (args.positionals.length > 1) throw new Error('one mount point at most');
  });
  if (typeof parsed === 'number') return parsed;
  const mountpoint = resolve(expandHome(parsed.positionals[0] ?? '~/tasks'));
  const { node: options } = parsed.runtime;
  process.title = `taskfs mount ${mountpoint}`;

  await checkFuse();
  await prepareMountpoint(mountpoint);
  const rt = await startRuntime(parsed.runtime);
  rt.node.mountpoint = mountpoint;

  let unmounted!: () => void;
  const externalUnmount = new Promise<void>((r) => (unmounted = r));
  let mount: FuseMount;
  try {
    mount = await FuseMount.mount(rt.node.root, mountpoint, {
      allowOther: parsed.allowOther,
      onExternalUnmount: () => unmounted(),
    });
  } catch (err) {
    await rt.stop();
    throw err;
  }
  const listening = rt.listener ? `, listening on ${rt.listener.address}` : '';
  const web = rt.web ? `, web monitor at ${rt.web.url}` : '';
  process.stderr.write(
    `taskfs: node ${options.name} mounted on ${mountpoint} (${options.slots} slots, workdir ${options.workdir}${listening}${web})\n`,
  );
  const why = await onStopSignals(externalUnmount.then(() => 'unmounted from outside'));
  process.stderr.write(`taskfs: ${why}: stopping node ${options.name}\n`);
  await rt.stop();
  await mount.unmount();
  return 0;
}

async function checkFuse(): Promise<void> {
  try {
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    throw new Error(
      'FUSE is unusable: /dev/fuse is missing or not accessible; load the fuse module (modprobe fuse) or give the container --device /dev/fuse',
    );
  }
  loadFuse();
}

/** Create a missing mount point, clear a stale one, refuse a busy or non-empty one. */
async function prepareMountpoint(mountpoint: string): Promise<void> {
  const st = await stat(mountpoint).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    if (st.code === 'ENOTCONN' || st.code === 'ECONNABORTED') {
      await lazyUnmount(mountpoint); // a crashed daemon's mount
      return;
    }
    if (st.code === 'ENOENT') {
      await mkdir(mountpoint, { recursive: true });
      return;
    }
    throw new Error(`mount point ${mountpoint}: ${st.message}`);
  }
  if (!st.isDirectory()) throw new Error(`mount point ${mountpoint} is not a directory`);
  if (await isMounted(mountpoint))
    throw new Error(
      `mount point ${mountpoint} is already mounted (another taskfs?); unmount it first: fusermount -u ${mountpoint}`,
    );
  if ((await readdir(mountpoint)).length > 0)
    throw new Error(`mount point ${mountpoint} is a non-empty directory; choose an empty one`);
}
