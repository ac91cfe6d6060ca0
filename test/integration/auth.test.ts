/**
 * --key between real node processes on loopback (README "Authentication"): a keyed root
 * reserves on a keyed child, a parent without the key is refused with a
 * clear error, a readable key file and an open listener without a key
 * refuse to start.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { run, sh, startMount, startServe, stopAll, taskfsBin } from '../helpers/daemon.js';
import { OREAD, ORDWR, OWRITE, Raw9p } from '../helpers/raw9p.js';

const SECRET = 'a shared secret for the tests';

let dir: string;
let keyPath: string;
const clients: Raw9p[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-auth-'));
  keyPath = await keyFile('key', `${SECRET}\n`);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await stopAll();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function keyFile(name: string, content: string, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  await chmod(path, mode);
  return path;
}

async function dial(addr: string): Promise<Raw9p> {
  const c = await Raw9p.dial(addr);
  clients.push(c);
  expect(await c.version()).toBe('9P2000');
  return c;
}

/** Attach through taskfs-auth-1 with `secret` on afid 99. */
async function attachWithKey(c: Raw9p, secret = SECRET): Promise<void> {
  await c.authenticate(99, Buffer.from(secret));
  await c.attach(0, 99);
  await c.clunk(99);
}

async function readFile(c: Raw9p, fid: number, path: string[]): Promise<string> {
  await c.walk(0, fid, path);
  await c.open(fid, OREAD);
  const text = await c.readAll(fid);
  await c.clunk(fid);
  return text;
}

/** Runs `taskfs ARGS` that is expected to refuse to start. */
function refusedStart(args: string): Promise<{ code: number; stderr: string }> {
  return sh(`exec ${taskfsBin} ${args} --workdir ${dir}/work`, { timeout: 30_000 });
}

const childName = (addr: string) => addr.replace(/^tcp!/, '').replace('!', '-');

describe('nodes with --key', () => {
  it('a keyed root reserves on a keyed child; clients without the key are refused', async () => {
    const child = await startServe(['--slots', '2', '--key', keyPath]);
    const root = await startServe(['--slots', '1', '--remote', child.addr, '--key', keyPath]);

    const anon = await dial(root.addr);
    await expect(anon.attach(0)).rejects.toThrow(/^authentication required$/);

    const c = await dial(root.addr);
    await attachWithKey(c);
    expect(await readFile(c, 1, ['status'])).toMatch(/^2 Linux /);
    expect(await readFile(c, 1, ['nodes', childName(child.addr), 'status'])).toMatch(/^2 Linux /);
    expect(await readFile(c, 1, ['ns'])).toBe(`mount ${child.addr} ${childName(child.addr)}\n`);

    await c.walk(0, 2, ['clone']);
    await c.open(2, ORDWR);
    const n = (await c.read(2, 0, 64)).toString();
    await c.write(2, 0, 'res 2\n');
    await c.write(2, 0, 'exec echo through the keyed child\n');
    expect(await readFile(c, 3, [n, 'topology'])).toBe('0/0 0/1');
    expect(await readFile(c, 3, [n, 'stdout'])).toBe('through the keyed child\n'.repeat(2));
    await c.clunk(2);
    // The child warned about the anonymous attach, not about its keyed parent.
    expect(root.stderr()).toMatch(
      /taskfs: refused 9P client 127\.0\.0\.1:\d+: attach as user "test" without authentication/,
    );
    expect(child.stderr()).not.toMatch(/refused/);
  });

  it('a parent without the key, or with another, cannot mount a keyed child', async () => {
    const child = await startServe(['--slots', '1', '--key', keyPath]);
    const parent = await startServe(['--slots', '1']);
    const c = await dial(parent.addr);
    await c.attach(0);
    await c.walk(0, 1, ['ctl']);
    await c.open(1, OWRITE);
    const err = await c.write(1, 0, `mount ${child.addr} kid\n`).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err).toContain(`${child.addr}: authentication required (give --key)`);
    expect(child.stderr()).toMatch(
      /taskfs: refused 9P client 127\.0\.0\.1:\d+: attach as user "\S+" without authentication/,
    );
    // Nothing mounted; the failure is listed as down (README "SSH and hostlists").
    expect(await readFile(c, 2, ['ns'])).toMatch(/^# down kid mount \S+: .*authentication required.*\n$/);

    const other = await keyFile('other', 'not the same secret\n');
    const wrong = await startServe(['--slots', '1', '--key', other]);
    const w = await dial(wrong.addr);
    await attachWithKey(w, 'not the same secret');
    await w.walk(0, 1, ['ctl']);
    await w.open(1, OWRITE);
    const err2 = await w.write(1, 0, `mount ${child.addr} kid\n`).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(err2).toContain('authentication failed');
    expect(child.stderr()).toMatch(/authentication failed for user/);
  });

  it('a key file others can read refuses to start, naming the file and its mode', async () => {
    const loose = await keyFile('loose', 'secret\n', 0o644);
    const r = await refusedStart(`serve --listen 'tcp!127.0.0.1!0' --key ${loose}`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(
      `taskfs: key file ${loose} has mode 0644; it must be 0600 or stricter (chmod 600 ${loose})\n`,
    );
    const empty = await keyFile('empty', '\n');
    const e = await refusedStart(`serve --listen 'tcp!127.0.0.1!0' --key ${empty}`);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toBe(`taskfs: key file ${empty} is empty\n`);
  });

  it('listening beyond loopback needs --key', async () => {
    const r = await refusedStart(`serve --listen 'tcp!0.0.0.0!0'`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^taskfs: refusing to listen on tcp!0\.0\.0\.0!0 without --key: .*give --key FILE\)\n$/);
    // With a key it starts; it is stopped at once and sent nothing.
    const open = await startServe(['--listen', 'tcp!0.0.0.0!0', '--key', keyPath]);
    expect(open.stderr()).toMatch(/listening on tcp!0\.0\.0\.0!\d+/);
    await open.stop();
  });
});

describe.skipIf(fuseMissing)('taskfs mount --key', () => {
  it('mounts a keyed child at start and through ctl, and runs on it', async () => {
    const child = await startServe(['--slots', '2', '--key', keyPath]);
    const late = await startServe(['--slots', '1', '--key', keyPath]);
    const root = await startMount(['--remote', child.addr, '--key', keyPath]);
    expect(await run(`cat nodes/${childName(child.addr)}/status`, { cwd: root.mnt })).toMatch(/^2 Linux /);
    await run(`echo mount ${late.addr} late > ctl`, { cwd: root.mnt });
    expect(await run('cat status', { cwd: root.mnt })).toMatch(/^3 Linux /);
    expect(
      await run(`cd $(cat clone) && echo res 3 > ctl && echo exec echo ok > ctl && cat stdout`, { cwd: root.mnt }),
    ).toBe('ok\n'.repeat(3));
  });
});
