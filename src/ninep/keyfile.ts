/**
 * The shared secret of --key FILE: the whole file, less one trailing
 * newline. Like ssh with its private keys, a key that others can read (or
 * that someone else owns, and so can swap) is refused rather than used.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** A key is a line or a few; anything this big is the wrong file. */
const MAX_KEY_BYTES = 64 * 1024;

export class KeyFileError extends Error {}

export async function readKeyFile(path: string): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ELOOP'
        ? 'is a symbolic link; give the file itself'
        : e.code === 'ENOENT'
          ? 'does not exist'
          : e.message;
    throw new KeyFileError(`key file ${path} ${why}`);
  }
  try {
    // fstat of what was opened: no window for a swap between check and read.
    const st = await fh.stat();
    if (!st.isFile()) throw new KeyFileError(`key file ${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new KeyFileError(
        `key file ${path} has mode ${octal(mode)}; it must be 0600 or stricter (chmod 600 ${path})`,
      );
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new KeyFileError(`key file ${path} is owned by uid ${st.uid}, not by this user (uid ${uid})`);
    }
    if (st.size > MAX_KEY_BYTES)
      throw new KeyFileError(`key file ${path} is ${st.size} bytes; a key is at most ${MAX_KEY_BYTES}`);
    const data = await fh.readFile();
    const end = data.at(-1) === 0x0a ? (data.at(-2) === 0x0d ? data.length - 2 : data.length - 1) : data.length;
    const key = data.subarray(0, end);
    if (key.length === 0) throw new KeyFileError(`key file ${path} is empty`);
    return key;
  } finally {
    await fh.close();
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
