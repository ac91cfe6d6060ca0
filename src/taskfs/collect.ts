/**
 * `collect PATTERN` (README "Staging"): files matching a glob in a leaf's
 * working directory are copied into the collecting session's out/RANK/;
 * an inner session has each child collect, then copies the child's
 * out/J/ into its own out/(BASE+J)/, BASE being the child's first rank.
 * Patterns are relative and stay inside the directory: `*`, `?` and
 * `[...]` within one name; no `..`, no absolute path. Symbolic links are
 * not followed.
 */
import { constants as fsc } from 'node:fs';
import { copyFile, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FsError, asFsError } from '../ns/errors.js';
import { receiveFile } from '../ns/copy.js';
import { checkName } from '../ns/disk.js';
import { isDir, type Node } from '../ns/types.js';
import type { BoundSession } from '../nodes/bound-session.js';

/** The names of a pattern, checked; EINVAL for anything that could leave the directory. */
export function patternNames(pattern: string): RegExp[] {
  if (pattern === '') throw new FsError('EINVAL', 'collect: empty pattern');
  if (pattern.startsWith('/')) throw new FsError('EINVAL', `collect: ${pattern}: absolute patterns are refused`);
  const names = pattern.split('/').filter((n) => n !== '' && n !== '.');
  if (names.some((n) => n === '..')) throw new FsError('EINVAL', `collect: ${pattern}: '..' is refused`);
  if (names.length === 0) throw new FsError('EINVAL', `collect: ${pattern}: matches no file name`);
  return names.map(globName);
}

/** One name of a glob as a regular expression: `*`, `?`, `[...]` (`[!...]` negates); a leading dot is not matched by a wildcard. */
export function globName(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  const hidden = glob.startsWith('.') ? '' : '(?!\\.)';
  return new RegExp(`^${hidden}${re}$`);
}

/** Paths (relative, `/` between names) below `dir` matching `names`, directories included. */
export async function matchPaths(dir: string, names: readonly RegExp[], prefix = ''): Promise<string[]> {
  const [first, ...rest] = names;
  if (!first) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!first.test(e.name) || e.isSymbolicLink()) continue;
    const rel = prefix + e.name;
    if (rest.length === 0) {
      if (e.isFile() || e.isDirectory()) out.push(rel);
    } else if (e.isDirectory()) out.push(...(await matchPaths(join(dir, e.name), rest, `${rel}/`)));
  }
  return out;
}

/** A leaf's matches, from its working directory into `dest`. */
export async function collectLeaf(cwd: string, pattern: string, dest: string): Promise<void> {
  const names = patternNames(pattern);
  await mkdir(dest, { recursive: true });
  for (const rel of await matchPaths(cwd, names)) await copyLocal(join(cwd, rel), join(dest, rel));
}

async function copyLocal(from: string, to: string): Promise<void> {
  const st = await lstat(from);
  try {
    if (st.isDirectory()) {
      await mkdir(to, { recursive: true });
      for (const name of await readdir(from)) await copyLocal(join(from, name), join(to, name));
    } else if (st.isFile()) {
      await mkdir(join(to, '..'), { recursive: true });
      await copyFile(from, to, fsc.COPYFILE_FICLONE);
    }
  } catch (err) {
    const e = asFsError(err);
    throw new FsError(e.code, `collect: ${from}: ${e.message}`);
  }
}

function validName(name: string): boolean {
  try {
    checkName(name);
    return true;
  } catch {
    return false;
  }
}

/** Child `index`'s fs/out/J/ (after its collect) into `out`/(BASE+J)/. */
export async function pullOut(child: BoundSession, index: number, out: string, base: number): Promise<void> {
  const outs = await (await child.dir.walk?.('fs'))?.walk?.('out');
  if (!outs?.list) throw new FsError('EIO', `collect: child ${index} has no fs/out`);
  for (const st of await outs.list()) {
    if (!/^(0|[1-9]\d*)$/.test(st.name)) continue;
    const rankDir = await outs.walk!(st.name);
    if (rankDir) await pullTree(rankDir, join(out, String(base + Number(st.name))));
  }
}

/** A tree of the tree (a child's out/J, on this node or another) into `dest` on disk, streamed. */
async function pullTree(src: Node, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const st of await src.list!()) {
    if (!validName(st.name)) continue;
    const node = await src.walk!(st.name);
    if (!node) continue;
    const to = join(dest, st.name);
    if (isDir(st)) await pullTree(node, to);
    else {
      const file = await node.open!({ read: true, write: false });
      try {
        await receiveFile(file, to);
      } finally {
        await file.close();
      }
    }
  }
}
