/**
 * Staged files into a leaf's working directory on this node, before it
 * starts (README "Staging"). Copied, not linked: a leaf that writes into a
 * staged file must not change the original that later leaves get. The copy
 * is a reflink where the file system offers one. A file already there with
 * the staged size and time is left alone (the leaf's second exec).
 */
import { constants as fsc } from 'node:fs';
import { copyFile, mkdir, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { FsError, asFsError } from '../ns/errors.js';
import type { Staging } from './staging.js';

export async function stageToLeaf(staging: Staging, dir: string, nodeName: string): Promise<void> {
  for (const f of await staging.files()) {
    const target = join(dir, f.rel);
    const there = await stat(target).catch(() => undefined);
    if (there?.isFile() && there.size === f.size && Math.floor(there.mtimeMs) === Math.floor(f.mtimeMs)) continue;
    try {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(f.path, target, fsc.COPYFILE_FICLONE);
      await utimes(target, Date.now() / 1000, f.mtimeMs / 1000);
    } catch (err) {
      const e = asFsError(err);
      throw new FsError(e.code, `staging ${f.rel} into ${dir} on ${hostname()} (node ${nodeName}): ${e.message}`);
    }
  }
}
