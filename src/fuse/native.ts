/**
 * The only importer of fuse-native (unmaintained since 2020: keep it
 * swappable). Adds what the binding lacks as options: direct I/O, which
 * synthetic files of length 0 need or the kernel returns nothing.
 */
import { createRequire } from 'node:module';
import type { FuseClass, FuseModule } from './fuse-types.js';

const require = createRequire(import.meta.url);

let loaded: { Fuse: FuseModule; DirectIoFuse: FuseClass } | undefined;

/** Load the binding; throws a one-line, actionable message when libfuse is missing. */
export function loadFuse(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  let Fuse: FuseModule;
  try {
    Fuse = require('fuse-native') as FuseModule;
  } catch (err) {
    const text = String((err as Error).message);
    if (/libfuse\.so\.2/.test(text)) {
      throw new Error(
        'FUSE is unusable: libfuse.so.2 is missing; install it with native-setup/install (Debian: apt-get install libfuse2 fuse)',
      );
    }
    throw new Error(`FUSE is unusable: cannot load fuse-native: ${text.split('\n')[0]}`);
  }
  class DirectIoFuse extends Fuse {
    override _fuseOptions(): string {
      const opts = super._fuseOptions();
      const ours = 'direct_io,big_writes,max_write=131072';
      return opts ? `${opts},${ours}` : `-o${ours}`;
    }
  }
  loaded = { Fuse, DirectIoFuse };
  return loaded;
}

/** `fusermount -uz`: clears a mount whose daemon is gone. */
export function lazyUnmount(mountpoint: string): Promise<void> {
  const { Fuse } = loadFuse();
  return new Promise((resolve, reject) => Fuse.unmount(mountpoint, (err) => (err ? reject(err) : resolve())));
}
