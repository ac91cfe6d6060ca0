/**
 * The monitor's only way into a node: the file tree (src/ns), the same one
 * FUSE and 9P serve, so a remote node's tree works as well as a local one.
 * A path is a list of names for `walkNames`; a read reads a file to its end
 * as `cat` would, an action writes one ctl line as `echo` would.
 */
import { FsError } from '../ns/errors.js';
import type { FileStat, Node, OpenFile } from '../ns/types.js';
import { walkNames } from '../ns/walk.js';

/** A generated file is a few lines; anything past this is cut, not buffered. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** The whole text of the file at `names` (up to MAX_READ_BYTES). */
export async function readText(root: Node, names: readonly string[], signal?: AbortSignal): Promise<string> {
  const fh = await openAt(root, names, { read: true, write: false });
  try {
    return (await readToEnd(fh, signal)).toString();
  } finally {
    await fh.close();
  }
}

/** Writes `text` to the file at `names` in one write, as `echo text > file` does. */
export async function writeText(root: Node, names: readonly string[], text: string): Promise<void> {
  const fh = await openAt(root, names, { read: false, write: true });
  try {
    await fh.write(Buffer.from(text), 0);
  } finally {
    await fh.close();
  }
}

/** What `ls -l` would say of the directory at `names`, in listing order. */
export async function listStats(root: Node, names: readonly string[]): Promise<FileStat[]> {
  const dir = await walkNames(root, names);
  if (!dir.list) throw new FsError('ENOTDIR', `${names.join('/')}: not a directory`);
  return dir.list();
}

export async function listNames(root: Node, names: readonly string[]): Promise<string[]> {
  return (await listStats(root, names)).map((st) => st.name);
}

/**
 * Opens `clone` at `names` read-write, reads the number it made and hands
 * it, with the open handle, to `use`; the handle is closed after it (a job
 * outlives its clone handle; a session would not).
 */
export async function withClone<T>(
  root: Node,
  names: readonly string[],
  use: (id: string, handle: OpenFile) => Promise<T>,
): Promise<T> {
  const fh = await openAt(root, names, { read: true, write: true });
  try {
    const id = (await readToEnd(fh)).toString().trim();
    return await use(id, fh);
  } finally {
    await fh.close();
  }
}

async function openAt(root: Node, names: readonly string[], mode: { read: boolean; write: boolean }) {
  const node = await walkNames(root, names);
  if (!node.open) throw new FsError('EISDIR', `${names.join('/')}: is a directory`);
  return node.open(mode);
}

async function readToEnd(fh: OpenFile, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < MAX_READ_BYTES) {
    const chunk = await fh.read(offset, Math.min(CHUNK_BYTES, MAX_READ_BYTES - offset), signal);
    if (chunk.length === 0) break;
    parts.push(chunk);
    offset += chunk.length;
  }
  return Buffer.concat(parts);
}
