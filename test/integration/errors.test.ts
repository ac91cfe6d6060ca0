/**
 * Bad input (README "Hostile input"): each wrong write fails with a fitting errno,
 * leaves its reason in err, and the node keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { run, sh, startMount, stopAll, type Daemon } from '../helpers/daemon.js';

// strerror texts as sh and coreutils print them
const EINVAL = 'Invalid argument';
const EBUSY = 'Device or resource busy';
const ENOENT = 'No such file or directory';
const EACCES = 'Permission denied';
const ENOSPC = 'No space left on device';

const cases: Array<{ what: string; script: string; errno: string; err?: RegExp }> = [
  { what: 'unknown verb', script: '/bin/echo frobnicate > ctl', errno: EINVAL, err: /unknown ctl verb: frobnicate/ },
  { what: 'res -1', script: '/bin/echo res -1 > ctl', errno: EINVAL, err: /res: bad count "-1"/ },
  { what: 'res x', script: '/bin/echo res x > ctl', errno: EINVAL, err: /res: bad count "x"/ },
  { what: 'res with too many words', script: '/bin/echo res 1 a b c > ctl', errno: EINVAL, err: /usage: res N/ },
  {
    what: 'res twice',
    script: '/bin/echo res 1 > ctl && /bin/echo res 1 > ctl',
    errno: EBUSY,
    err: /already reserved/,
  },
  {
    what: 'res for another machine',
    script: '/bin/echo res 2 Plan9 mips > ctl',
    errno: ENOSPC,
    err: /no resources matching Plan9 mips/,
  },
  { what: 'res beyond the limit', script: '/bin/echo res 100000 > ctl', errno: ENOSPC, err: /more than the limit/ },
  {
    what: 'exec of a missing program',
    script: '/bin/echo exec /no/such/program > ctl',
    errno: ENOENT,
    err: /exec \/no\/such\/program: file does not exist/,
  },
  { what: 'exec with nothing to run', script: '/bin/echo exec > ctl', errno: EINVAL, err: /no command/ },
  { what: 'unbalanced quote', script: '/bin/echo "exec echo \'oops" > ctl', errno: EINVAL, err: /unbalanced quote/ },
  {
    what: 'dir that does not exist',
    script: '/bin/echo dir /no/such/dir > ctl',
    errno: ENOENT,
    err: /no such directory/,
  },
  {
    what: 'signal that does not exist',
    script: '/bin/echo signal SIGBOGUS > ctl',
    errno: EINVAL,
    err: /unknown signal/,
  },
  { what: 'nice out of range', script: '/bin/echo nice 99 > ctl', errno: EINVAL, err: /nice/ },
  { what: 'env line without =', script: '/bin/echo garbage > env', errno: EINVAL, err: /env: not NAME=value/ },
  { what: 'ns line that is not cd', script: '/bin/echo bind a b > ns', errno: EINVAL, err: /ns: unknown line/ },
  { what: 'write to read-only status', script: '/bin/echo x > status', errno: EACCES },
  { what: 'write to read-only stdout', script: '/bin/echo x > stdout', errno: EACCES },
  { what: 'read of write-only stdin', script: 'cat stdin', errno: EACCES },
  { what: 'create a file', script: '/bin/echo x > newfile', errno: EACCES },
  { what: 'splice from nowhere', script: '/bin/echo splice ../nosuch/stdout > ctl', errno: ENOENT },
];

describe.skipIf(fuseMissing)('bad input through FUSE', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startMount(['--slots', '2']);
  });
  afterAll(stopAll);

  it.each(cases)('$what fails with $errno', async ({ script, errno, err }) => {
    const n = (await run('cat clone', { cwd: d.mnt })).trim();
    const r = await sh(script, { cwd: `${d.mnt}/${n}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(errno);
    if (err) expect(await run(`cat ${n}/err`, { cwd: d.mnt })).toMatch(err);
    await run(`echo wipe > ${n}/ctl`, { cwd: d.mnt });
  });

  it('1 MB of garbage into ctl fails and the node keeps working', async () => {
    const n = (await run('cat clone', { cwd: d.mnt })).trim();
    const r = await sh(`head -c 1000000 /dev/urandom > ${n}/ctl`, { cwd: d.mnt });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(EINVAL);
    expect((await run(`cat ${n}/err`, { cwd: d.mnt })).length).toBeGreaterThan(0);
    const again = await run(`echo exec echo still alive > ${n}/ctl && cat ${n}/stdout`, { cwd: d.mnt });
    expect(again).toBe('still alive\n');
  });

  it('node ctl refuses unknown verbs and keeps its settings readable', async () => {
    const r = await sh('/bin/echo frobnicate > ctl', { cwd: d.mnt });
    expect(r.stderr).toContain(EINVAL);
    expect(await run('cat ctl', { cwd: d.mnt })).toMatch(/^name \S+\nslots 2\n/);
    expect((await sh('echo x > arch', { cwd: d.mnt })).stderr).toContain(EACCES);
    expect((await sh('mkdir newdir', { cwd: d.mnt })).code).not.toBe(0);
    expect((await sh('rm clone', { cwd: d.mnt })).code).not.toBe(0);
  });

  it('a dead leaf shows Fail in status and its reason in wait', async () => {
    const n = (await run('cat clone', { cwd: d.mnt })).trim();
    await sh(`echo res 2 > ${n}/ctl; echo exec /no/such/program > ${n}/ctl`, { cwd: d.mnt });
    const status = await run(`cat ${n}/status`, { cwd: d.mnt });
    expect(status.match(/ Fail /g)).toHaveLength(2);
    const wait = await run(`cat ${n}/wait`, { cwd: d.mnt });
    expect(wait.split('\n').filter(Boolean)).toHaveLength(2);
    expect(wait).toContain("'fail: exec /no/such/program: file does not exist'");
  });
});
