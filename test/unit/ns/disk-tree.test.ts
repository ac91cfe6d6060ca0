/**
 * Real files through the tree (src/ns/disk.ts), directly and over 9P:
 * create (Tcreate), write, truncate (Twstat of length), list, remove
 * (Tremove), and the refusals. The staging directory fs/ is made of these.
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { receiveFile, sendFile } from '../../../src/ns/copy.js';
import { DiskDir } from '../../../src/ns/disk.js';
import { SyntheticDir, withEntries } from '../../../src/ns/synthetic.js';
import { isDir, type Node } from '../../../src/ns/types.js';
import { connect } from '../../../src/ninep/client.js';
import { listen } from '../../../src/ninep/server.js';

let dir: string;
let cleanups: (() => Promise<unknown>)[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-disk-'));
  cleanups = [];
});

afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

async function files(): Promise<string> {
  return join(dir, 'files');
}

/** The tree of a node: a synthetic root holding a staging directory `fs`. */
async function treeRoot(): Promise<Node> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(await files());
  const fs = new DiskDir(await files(), 'fs');
  return new SyntheticDir({ name: '/', qidPath: 1n, entries: () => [['fs', fs] as const] });
}

/** The same tree through a 9P server and client on a unix socket. */
async function over9p(root: Node): Promise<Node> {
  const l = await listen(`unix!${join(dir, 's')}`, () => root);
  const c = await connect(l.address);
  cleanups.push(
    () => l.close(),
    () => c.close(),
  );
  return c.root;
}

async function write(node: Node, text: string, truncate = false): Promise<void> {
  const f = await node.open!({ read: false, write: true, truncate });
  await f.write(Buffer.from(text), 0);
  await f.close();
}

async function read(node: Node): Promise<string> {
  const f = await node.open!({ read: true, write: false });
  const data = await f.read(0, 1 << 16);
  await f.close();
  return data.toString();
}

describe.each([
  ['in process', (root: Node) => Promise.resolve(root)],
  ['over 9P', over9p],
])('disk files %s', (how, reach) => {
  it('create, write, truncate, list, remove', async () => {
    const root = await reach(await treeRoot());
    const fs = (await root.walk!('fs'))!;
    const a = await fs.create!('a.txt', false);
    await write(a, 'hello world');
    expect(await readFile(join(await files(), 'a.txt'), 'utf8')).toBe('hello world');
    await a.truncate!(5);
    expect(await read((await fs.walk!('a.txt'))!)).toBe('hello');
    await write(a, 'HE', false);
    expect(await read(a)).toBe('HEllo');
    await write(a, 'x', true); // OTRUNC
    expect(await read(a)).toBe('x');

    const script = await fs.create!('run.sh', false, 0o755);
    expect((await script.stat()).mode).toBe(0o755);
    await script.chmod!(0o600);
    expect((await script.stat()).mode).toBe(0o600);
    await script.remove!();

    const sub = await fs.create!('sub', true);
    expect(isDir(await sub.stat())).toBe(true);
    await write(await sub.create!('b', false), 'b');
    const listing = await fs.list!();
    expect(listing.map((s) => [s.name, s.length, isDir(s)])).toEqual([
      ['a.txt', 1, false],
      ['sub', 0, true],
    ]);
    expect(new Set(listing.map((s) => s.qid.path)).size).toBe(2);
    for (const s of listing) expect(s.qid.path >= 1n << 61n).toBe(true);

    await expect(fs.create!('a.txt', false)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(sub.remove!()).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await (await sub.walk!('b'))!.rename!('c');
    expect((await sub.list!()).map((s) => s.name)).toEqual(['c']);
    await expect((await sub.walk!('c'))!.rename!('../c')).rejects.toMatchObject({ code: 'EINVAL' });
    await (await sub.walk!('c'))!.remove!();
    await sub.remove!();
    await a.remove!();
    expect(await fs.list!()).toEqual([]);
    // A synthetic directory offers no create; the 9P server answers for it.
    if (how === 'over 9P') await expect(root.create!('x', false)).rejects.toMatchObject({ code: 'EACCES' });
    else expect(root.create).toBeUndefined();
  });

  it('serves no symbolic link: nothing leads out of the directory', async () => {
    const root = await reach(await treeRoot());
    await symlink('/etc/passwd', join(await files(), 'passwd'));
    const fs = (await root.walk!('fs'))!;
    expect(await fs.walk!('passwd')).toBeUndefined();
    expect(await fs.list!()).toEqual([]);
  });

  it('streams a file both ways with the windowed copy', async () => {
    const root = await reach(await treeRoot());
    const fs = (await root.walk!('fs'))!;
    const data = Buffer.alloc(1_000_003);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    await writeFile(join(dir, 'src'), data);
    const out = await (await fs.create!('big', false)).open!({ read: false, write: true });
    expect(await sendFile(join(dir, 'src'), out, data.length)).toBe(data.length);
    await out.close();
    expect((await readFile(join(await files(), 'big'))).equals(data)).toBe(true);
    const back = await (await fs.walk!('big'))!.open!({ read: true, write: false });
    expect(await receiveFile(back, join(dir, 'back'))).toBe(data.length);
    await back.close();
    expect((await readFile(join(dir, 'back'))).equals(data)).toBe(true);
  });
});

describe('withEntries', () => {
  it('lays synthetic entries over a directory and keeps their names', async () => {
    const root = await treeRoot();
    const fs = (await root.walk!('fs'))!;
    const extra = new Map<string, Node>([
      ['.sums', new SyntheticDir({ name: '.sums', qidPath: 9n, entries: () => [] })],
    ]);
    const over = withEntries(fs, () => extra, ['out']);
    await write(await over.create!('f', false), 'x');
    expect((await over.list!()).map((s) => s.name)).toEqual(['.sums', 'f']);
    await expect(over.create!('.sums', false)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(over.create!('out', true)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(over.create!('..', true)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});
