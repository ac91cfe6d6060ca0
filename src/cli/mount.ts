/** `taskfs mount`: a node served through FUSE, in the foreground. */
import { access, mkdir, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FuseMount, isMounted } from '../fuse/mount.js';
import { lazyUnmount, loadFuse } from '../fuse/native.js';
import { TaskNode } from '../taskfs/node.js';
import { expandHome, nodeOptions, UsageError } from './options.js';
import { onStopSignals } from './signals.js';
import { usage } from './usage.js';

export async function mountCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        slots: { type: 'string' },
        'strict-slots': { type: 'boolean' },
        name: { type: 'string' },
        workdir: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (parsed.values.help) {
      process.stdout.write(usage.mount);
      return 0;
    }
    if (parsed.positionals.length > 1) throw new UsageError('one mount point at most');
  } catch (err) {
    process.stderr.write(`taskfs mount: ${(err as Error).message}\n${usage.mount}`);
    return 2;
  }
  const mountpoint = resolve(expandHome(parsed.positionals[0] ?? '~/tasks'));
  let options;
  try {
    options = nodeOptions(parsed.values);
  } catch (err) {
    process.stderr.write(`taskfs mount: ${(err as Error).message}\n`);
    return 2;
  }

  process.title = `taskfs mount ${mountpoint}`;
  await checkFuse();
  await prepareMountpoint(mountpoint);
  const node = new TaskNode(options);
  await node.start();
  node.mountpoint = mountpoint;

  let stopping: Promise<void> | undefined;
  let mount: FuseMount | undefined;
  const stop = (why: string) => (stopping ??= (async () => {
    process.stderr.write(`taskfs: ${why}: stopping node ${options.name}\n`);
    await node.stop();
    await mount?.unmount();
  })());

  let unmounted!: () => void;
  const externalUnmount = new Promise<void>((r) => (unmounted = r));
  mount = await FuseMount.mount(node.root, mountpoint, { onExternalUnmount: () => unmounted() });
  process.stderr.write(`taskfs: node ${options.name} mounted on ${mountpoint} (${options.slots} slots, workdir ${options.workdir})\n`);
  const why = await onStopSignals(externalUnmount);
  await stop(why);
  return 0;
}

async function checkFuse(): Promise<void> {
  try {
    await access('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    throw new Error('FUSE is unusable: /dev/fuse is missing or not accessible; load the fuse module (modprobe fuse) or run with --device /dev/fuse in a container');
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
  if (await isMounted(mountpoint)) throw new Error(`mount point ${mountpoint} is already mounted (another taskfs?); unmount it first: fusermount -u ${mountpoint}`);
  if ((await readdir(mountpoint)).length > 0) throw new Error(`mount point ${mountpoint} is a non-empty directory; choose an empty one`);
}
