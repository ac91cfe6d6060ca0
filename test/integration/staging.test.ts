/**
 * Staging (README "Staging"): files written into fs/ through the root
 * mount reach every leaf on two child nodes, are sent once per link and
 * not again, and `collect` brings each leaf's files back by rank. Bad
 * patterns and a disk that cannot hold a staged file fail clearly.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { peakRss, run, sh, startMount, startServe, stopAll } from '../helpers/daemon.js';
import { requirePrograms } from '../helpers/programs.js';

const lines = (text: string) => text.split('\n').filter(Boolean);
const MB = 1000 * 1000;

/** Each leaf writes the md5 of the staged file and its rank into out.txt. */
const leafScript = `exec sh -c 'echo $(md5sum < data.bin | cut -c1-32) $TASKFS_RANK > out.txt'`;

describe.skipIf(fuseMissing)('staging', () => {
  afterEach(stopAll);

  it('5 MB in fs/ reaches 4 leaves on two children once; collect brings out.txt back per rank', async () => {
    const a = await startServe(['--slots', '2']);
    const b = await startServe(['--slots', '2']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const cwd = root.mnt;
    await run(`head -c ${5 * MB} /dev/urandom > fs/data.bin`, { cwd });
    const md5 = (await run('md5sum < fs/data.bin', { cwd })).slice(0, 32);
    expect(await run('ls fs; cat fs/.sent', { cwd })).toBe('data.bin\n0 0\n');
    expect(await run('cat fs/.sums', { cwd })).toMatch(new RegExp(`^[0-9a-f]{64} ${5 * MB} data.bin\n$`));

    const session = (await run('cat clone', { cwd })).trim();
    const s = join(cwd, session);
    await run(`echo res 4 > ctl && cat > ctl <<'EOF'\n${leafScript}\nEOF\ncat wait`, { cwd: s });
    expect(lines(await run('cat status', { cwd: s })).every((l) => / Done /.test(l))).toBe(true);
    // One copy sent to each child: 5 MB on each link.
    expect(await run('cat fs/.sent', { cwd })).toBe(`${10 * MB} 2\n`);
    for (const child of [a, b]) {
      expect((await run(`md5sum < ${child.dir}/work/fs/data.bin`)).slice(0, 32)).toBe(md5);
    }

    await run('echo collect out.txt > ctl', { cwd: s });
    expect(lines(await run('ls fs/out', { cwd: s }))).toEqual(['0', '1', '2', '3']);
    for (const rank of [0, 1, 2, 3]) {
      expect(await run(`cat fs/out/${rank}/out.txt`, { cwd: s })).toBe(`${md5} ${rank}\n`);
    }

    // A second exec: the children have the file, nothing more is sent.
    await run(`cat > ctl <<'EOF'\n${leafScript}\nEOF\ncat wait`, { cwd: s });
    expect(lines(await run('cat wait', { cwd: s }))).toHaveLength(4);
    expect(await run('cat fs/.sent', { cwd })).toBe(`${10 * MB} 2\n`);

    // A new file is sent, with its mode; a file the child already has is not.
    await run(`printf '#!/bin/sh\\necho hi\\n' > fs/hi.sh && chmod 755 fs/hi.sh`, { cwd });
    expect(await run('echo exec ./hi.sh > ctl && cat stdout', { cwd: s })).toBe('hi\n'.repeat(4));
    expect(await run('cat fs/.sent', { cwd })).toBe(`${10 * MB + 2 * 18} 4\n`);
  });

  it('collect refuses patterns that leave the working directory', async () => {
    const root = await startMount(['--slots', '2']);
    const s = join(root.mnt, (await run('cat clone', { cwd: root.mnt })).trim());
    await run(`echo res 2 > ctl && echo exec true > ctl && cat wait`, { cwd: s });
    for (const pattern of ['../../etc/passwd', '/etc/passwd', 'a/../../x']) {
      const r = await sh(`/bin/echo collect ${pattern} > ctl; s=$?; cat err; exit $s`, { cwd: s });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('Invalid argument');
      expect(r.stdout).toMatch(/refused/);
    }
    expect((await sh('ls fs/out', { cwd: s })).code).not.toBe(0);
  });

  it('fs/ takes files and directories, truncation and removal; a leaf cannot change the original', async () => {
    const root = await startMount(['--slots', '1']);
    const cwd = root.mnt;
    await run('mkdir fs/sub && echo hello > fs/sub/a.txt && printf 123456 > fs/b && truncate -s 3 fs/b', { cwd });
    // Modes are kept, so a staged script runs; chmod works too.
    await run(`printf '#!/bin/sh\\necho script ran\\n' > fs/run.sh && chmod 755 fs/run.sh`, { cwd });
    expect(await run('stat -c %a fs/run.sh', { cwd })).toBe('755\n');
    expect(await run('cat fs/sub/a.txt fs/b; echo; ls fs', { cwd })).toBe('hello\n123\nb\nrun.sh\nsub\n');
    const s0 = join(cwd, (await run('cat clone', { cwd })).trim());
    expect(await run('echo exec ./run.sh > ctl && cat stdout', { cwd: s0 })).toBe('script ran\n');
    await run('rm fs/run.sh', { cwd });
    const r = await sh('mkdir fs/out', { cwd });
    expect(r.code).not.toBe(0);
    const s = join(cwd, (await run('cat clone', { cwd })).trim());
    await run(`cat > ctl <<'EOF'\nexec sh -c 'cat sub/a.txt; echo changed > sub/a.txt'\nEOF\ncat stdout`, { cwd: s });
    expect(await run('cat stdout', { cwd: s })).toBe('hello\n');
    expect(await run('cat fs/sub/a.txt', { cwd })).toBe('hello\n');
    // Renames within a directory; mv copies across directories (EXDEV).
    await run('mv fs/b fs/c && mv fs/c fs/sub/c', { cwd });
    expect(await run('ls fs fs/sub; cat fs/sub/c', { cwd })).toBe('fs:\nsub\n\nfs/sub:\na.txt\nc\n123');
    await run('rm fs/sub/a.txt fs/sub/c && rmdir fs/sub', { cwd });
    expect(await run('ls fs', { cwd })).toBe('');
  });

  it('a staged file the leaf disk cannot hold fails the exec naming the file and the node', async () => {
    requirePrograms('unshare');
    // The child's workdir is an 8 MB tmpfs in its own mount namespace: the
    // staged 5 MB arrive in its fs/, the leaf's copy does not fit.
    const small = await startServe(['--slots', '1', '--name', 'small'], {
      wrap: (workdir) => [
        'unshare',
        '-m',
        'sh',
        '-c',
        'mkdir -p "$0" && mount -t tmpfs -o size=8m tmpfs "$0" && exec "$@"',
        workdir,
      ],
    });
    const root = await startMount(['--remote', small.addr]);
    const cwd = root.mnt;
    await run(`head -c ${5 * MB} /dev/urandom > fs/big.bin`, { cwd });
    const s = join(cwd, (await run('cat clone', { cwd })).trim());
    await run('echo res 1 > ctl', { cwd: s });
    const r = await sh('/bin/echo exec true > ctl; s=$?; cat err; exit $s', { cwd: s });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/staging big\.bin into \S+ on \S+ \(node small\).*no space left on device/i);
    expect(await run('cat status', { cwd: s })).toMatch(/^cmd\/\d+ \d+ Fail /);
    expect(await run('cat wait', { cwd: s })).toMatch(/'fail: staging big\.bin/);
    // The node is undisturbed: a small file still goes through.
    await run('rm fs/big.bin && echo ok > fs/small.txt', { cwd });
    expect(await run(`echo exec cat small.txt > ctl && cat stdout`, { cwd: s })).toBe('ok\n');
  });

  it('staging 32 MB to two children keeps every daemon small', async () => {
    const a = await startServe(['--slots', '1']);
    const b = await startServe(['--slots', '1']);
    const root = await startMount(['--remote', a.addr, '--remote', b.addr]);
    const cwd = root.mnt;
    await run(`head -c ${32 * MB} /dev/urandom > fs/big.bin`, { cwd });
    const s = join(cwd, (await run('cat clone', { cwd })).trim());
    await run(`echo res 2 > ctl && echo exec md5sum big.bin > ctl && cat stdout`, { cwd: s });
    const md5 = await run('md5sum < fs/big.bin', { cwd });
    expect(lines(await run('cat stdout', { cwd: s })).map((l) => l.slice(0, 32))).toEqual([
      md5.slice(0, 32),
      md5.slice(0, 32),
    ]);
    for (const d of [root, a, b]) expect(await peakRss(d.proc.pid!)).toBeLessThan(150 * 1024 * 1024);
    expect((await stat(join(a.dir, 'work/fs/big.bin'))).size).toBe(32 * MB);
  });
});
