/** --key FILE: the whole content less one trailing newline, private to its owner, never empty. */
import { chmod, chown, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../../src/ninep/keyfile.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-key-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFile(content: string | Buffer, mode = 0o600): Promise<string> {
  const path = join(dir, 'key');
  await writeFile(path, content, { mode });
  await chmod(path, mode); // umask may have taken bits away
  return path;
}

describe('readKeyFile', () => {
  it.each([
    ['s3cret\n', 's3cret'],
    ['s3cret', 's3cret'],
    ['s3cret\r\n', 's3cret'],
    ['two\nlines\n\n', 'two\nlines\n'],
    [' spaced \n', ' spaced '],
  ])('%j gives %j', async (content, want) => {
    expect((await readKeyFile(await keyFile(content))).toString()).toBe(want);
  });

  it('keeps binary keys whole', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
    expect(await readKeyFile(await keyFile(bytes))).toEqual(bytes);
  });

  it.each([0o400, 0o600, 0o700])('accepts mode %o', async (mode) => {
    await expect(readKeyFile(await keyFile('k', mode))).resolves.toEqual(Buffer.from('k'));
  });

  it.each([
    [0o644, '0644'],
    [0o640, '0640'],
    [0o604, '0604'],
    [0o660, '0660'],
  ])('refuses mode %o with one line naming the file and its mode', async (mode, shown) => {
    const path = await keyFile('k', mode);
    const err = await readKeyFile(path).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      `key file ${path} has mode ${shown}; it must be 0600 or stricter (chmod 600 ${path})`,
    );
  });

  it.each(['', '\n', '\r\n'])('refuses an empty key (%j)', async (content) => {
    const path = await keyFile(content);
    await expect(readKeyFile(path)).rejects.toThrow(`key file ${path} is empty`);
  });

  it('refuses a missing file, a directory and a symbolic link', async () => {
    await expect(readKeyFile(join(dir, 'nope'))).rejects.toThrow(/key file .*nope does not exist/);
    await expect(readKeyFile(dir)).rejects.toThrow(/is not a regular file/);
    const target = await keyFile('k');
    await symlink(target, join(dir, 'link'));
    await expect(readKeyFile(join(dir, 'link'))).rejects.toThrow(/is a symbolic link/);
  });

  // Only root can give a file away, so only root can test this.
  it.skipIf(process.getuid?.() !== 0)('refuses a key owned by someone else', async () => {
    const path = await keyFile('k');
    await chown(path, 12345, 12345);
    await expect(readKeyFile(path)).rejects.toThrow(`key file ${path} is owned by uid 12345, not by this user (uid 0)`);
  });
});
