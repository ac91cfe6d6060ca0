/**
 * Directory reads (read(9P)): whole stat entries only, and each read must
 * start at 0 or exactly where the previous one ended. Offset 0 re-lists the
 * directory, so `ls` after a change sees the change.
 */
import { FsError } from '../ns/errors.js';
import { packStat } from './codec.js';
import type { Fid, DirState } from './fid.js';
import { interrupted } from './fid.js';
import { toWireStat } from './stat.js';

export async function readDir(
  f: Fid,
  dir: DirState,
  offset: bigint,
  count: number,
  signal: AbortSignal,
): Promise<Buffer> {
  if (offset === 0n) {
    const list = f.node.list;
    if (list === undefined) throw new FsError('EIO', 'directory cannot be listed');
    const stats = await list.call(f.node);
    if (signal.aborted) throw interrupted();
    dir.entries = stats.map((st) => packStat(toWireStat(st)));
    dir.index = 0;
    dir.offset = 0n;
  } else if (offset !== dir.offset) {
    throw new FsError('EINVAL', 'bad offset in directory read');
  }
  const out: Buffer[] = [];
  let n = 0;
  let i = dir.index;
  while (i < dir.entries.length && n + dir.entries[i]!.length <= count) {
    n += dir.entries[i]!.length;
    out.push(dir.entries[i++]!);
  }
  if (out.length === 0 && i < dir.entries.length) {
    throw new FsError('EINVAL', `read count ${count} is smaller than the next directory entry`);
  }
  dir.index = i;
  dir.offset = offset + BigInt(n);
  return Buffer.concat(out, n);
}
