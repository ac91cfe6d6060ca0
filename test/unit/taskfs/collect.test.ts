/**
 * collect's patterns (src/taskfs/collect.ts) and the staging sums
 * (src/taskfs/staging.ts): what is refused, what a glob matches, and the
 * `.sums` lines a parent compares before sending.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { globName, matchPaths, patternNames } from '../../../src/taskfs/collect.js';
import { Staging, formatSums, parseSums } from '../../../src/taskfs/staging.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-collect-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('collect patterns', () => {
  it.each([
    ['../../etc/passwd', /'\.\.' is refused/],
    ['a/../../b', /'\.\.' is refused/],
    ['/etc/passwd', /absolute patterns are refused/],
    ['', /empty pattern/],
    ['./', /matches no file name/],
  ])('refuses %j', (pattern, reason) => {
    expect(() => patternNames(pattern)).toThrow(reason);
    try {
      patternNames(pattern);
    } catch (err) {
      expect(err).toMatchObject({ code: 'EINVAL' });
    }
  });

  it.each([
    ['out.txt', 'out.txt', true],
    ['out.txt', 'outXtxt', false],
    ['*.txt', 'a.txt', true],
    ['*.txt', '.hidden.txt', false],
    ['.*', '.hidden', true],
    ['r?.log', 'r1.log', true],
    ['r?.log', 'r10.log', false],
    ['[ab]*', 'b1', true],
    ['[!ab]*', 'b1', false],
    ['[!ab]*', 'c1', true],
    ['a+b(c)', 'a+b(c)', true],
    ['[unclosed', '[unclosed', true],
  ])('glob %j against %j: %s', (glob, name, matched) => {
    expect(globName(glob).test(name)).toBe(matched);
  });

  it('matches paths below the directory, never through a symbolic link', async () => {
    await mkdir(join(dir, 'res/deep'), { recursive: true });
    await writeFile(join(dir, 'res/a.out'), 'a');
    await writeFile(join(dir, 'res/b.out'), 'b');
    await writeFile(join(dir, 'res/c.in'), 'c');
    await writeFile(join(dir, 'top.out'), 't');
    await symlink('/etc', join(dir, 'etc'));
    await symlink('/etc/passwd', join(dir, 'pw.out'));
    expect(await matchPaths(dir, patternNames('*.out'))).toEqual(['top.out']);
    expect(await matchPaths(dir, patternNames('res/*.out'))).toEqual(['res/a.out', 'res/b.out']);
    expect(await matchPaths(dir, patternNames('*'))).toEqual(['res', 'top.out']);
    expect(await matchPaths(dir, patternNames('etc/passwd'))).toEqual([]);
    expect(await matchPaths(join(dir, 'nothing'), patternNames('*'))).toEqual([]);
  });
});

describe('staging sums', () => {
  it('lists every file with its SHA-256 and size, and parses back', async () => {
    const staging = new Staging(join(dir, 'fs'));
    await staging.start();
    await mkdir(join(dir, 'fs/sub'));
    await writeFile(join(dir, 'fs/sub/two words'), 'abc');
    await writeFile(join(dir, 'fs/empty'), '');
    await symlink('/etc/passwd', join(dir, 'fs/link'));
    const text = formatSums(await staging.sums());
    expect(text).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 empty\n' +
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 3 'sub/two words'\n",
    );
    expect(parseSums(text)).toEqual(
      new Map([
        ['empty', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
        ['sub/two words', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      ]),
    );
    expect(parseSums('garbage\nxyz 3 a\n')).toEqual(new Map());
    // A changed file is hashed again.
    await writeFile(join(dir, 'fs/empty'), 'abc');
    expect((await staging.sums())[0]).toMatchObject({ rel: 'empty', size: 3, sha256: expect.stringMatching(/^ba78/) });
  });
});
