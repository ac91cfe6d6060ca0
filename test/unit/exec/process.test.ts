import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeafProcess, type StartRequest } from '../../../src/exec/process.js';
import { signalName, signalNumber } from '../../../src/exec/signals.js';
import { STDIN_WINDOW, Spawner } from '../../../src/exec/spawner.js';
import { FileSpool, type Spool } from '../../../src/exec/spool.js';
import { requirePrograms } from '../../helpers/programs.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const SPAWND = join(ROOT, 'build', 'taskfs-spawnd');
let spawner: Spawner;

let dir: string;
let seq = 0;
const procs: LeafProcess[] = [];
const spools: FileSpool[] = [];
const stray: number[] = []; // pgids started outside LeafProcess

function spool(): FileSpool {
  const s = new FileSpool(join(dir, `out-${seq++}`));
  spools.push(s);
  return s;
}

interface Started {
  p: LeafProcess;
  out: FileSpool;
  err: FileSpool;
}

async function run(argv: string[], extra: Partial<StartRequest> = {}): Promise<Started> {
  const out = extra.stdout ?? spool();
  const err = extra.stderr ?? spool();
  const p = await LeafProcess.start({
    argv,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    spawner,
    ...extra,
    stdout: out,
    stderr: err,
  });
  procs.push(p);
  return { p, out, err };
}

async function text(s: Spool): Promise<string> {
  const parts: Buffer[] = [];
  let off = 0;
  for (;;) {
    const b = await s.read(off, 65536);
    if (b.length === 0) return Buffer.concat(parts).toString();
    parts.push(b);
    off += b.length;
  }
}

/** Wait until the spool holds `want` (the process may still run). */
async function waitText(s: Spool, want: string): Promise<void> {
  for (let off = 0; ; ) {
    await s.waitFor(off);
    const b = await s.read(0, s.length);
    if (b.toString().includes(want)) return;
    if (s.ended) throw new Error(`never saw ${want}: ${b.toString()}`);
    off = s.length;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** No live member: gone, or only zombies left for an init that reaps when it likes (no helper to reap them). */
function groupDead(pgid: number): boolean {
  if (!groupAlive(pgid)) return true;
  try {
    const stat = readFileSync(`/proc/${pgid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

beforeAll(async () => {
  execFileSync('sh', ['-c', 'mkdir -p build && cc -O2 -Wall -Wextra -o build/taskfs-spawnd native/spawnd-*.c'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  spawner = await Spawner.start(SPAWND);
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'taskfs-proc-'));
});

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill(200)));
  for (const g of stray.splice(0)) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await Promise.all(spools.splice(0).map((s) => s.dispose()));
  rmSync(dir, { recursive: true, force: true });
});

describe('signalNumber', () => {
  it('accepts names with and without SIG, and numbers', () => {
    expect(signalNumber('TERM')).toBe(15);
    expect(signalNumber('SIGTERM')).toBe(15);
    expect(signalNumber('sigkill')).toBe(9);
    expect(signalNumber('15')).toBe(15);
    expect(signalNumber(' HUP ')).toBe(1);
    expect(signalNumber('0')).toBeUndefined();
    expect(signalNumber('99')).toBeUndefined();
    expect(signalNumber('NOPE')).toBeUndefined();
    expect(signalNumber('')).toBeUndefined();
    expect(signalNumber('toString')).toBeUndefined();
    expect(signalName(10)).toBe('SIGUSR1');
  });
});

describe('LeafProcess', () => {
  beforeAll(() => requirePrograms('pgrep'));
  it('runs echo: output in the spool, status empty', async () => {
    const { p, out, err } = await run(['echo', 'hi']);
    expect(p.pid).toBeGreaterThan(1);
    const info = await p.exited;
    expect(info.status).toBe('');
    expect(info.pid).toBe(p.pid);
    expect(info.realMs).toBeGreaterThan(0);
    expect(p.running).toBe(false);
    expect(out.ended && err.ended).toBe(true);
    expect(await text(out)).toBe('hi\n');
    expect(await text(err)).toBe('');
  });

  it('reports a non-zero exit', async () => {
    const { p } = await run(['sh', '-c', 'echo oops >&2; exit 3']);
    const info = await p.exited;
    expect(info.status).toBe('exit: 3');
  });

  it('passes env, cwd and nice', async () => {
    const { p, out } = await run(['sh', '-c', 'echo "$FOO"; pwd; nice'], {
      env: { FOO: 'bar baz', PATH: process.env.PATH ?? '/usr/bin:/bin' },
      nice: 7,
    });
    await p.exited;
    expect(await text(out)).toBe(`bar baz\n${dir}\n7\n`);
  });

  it("searches the leaf's own PATH, and the next leaf its own (the process server's is put back)", async () => {
    const bin = mkdtempSync(join(dir, 'bin-'));
    writeFileSync(join(bin, 'only-here-xyz'), '#!/bin/sh\necho found in $0\n');
    chmodSync(join(bin, 'only-here-xyz'), 0o755);
    const { p, out } = await run(['only-here-xyz'], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    await p.exited;
    expect(await text(out)).toBe(`found in ${bin}/only-here-xyz\n`);
    await expect(run(['only-here-xyz'])).rejects.toMatchObject({ code: 'ENOENT' });
    const again = await run(['sh', '-c', 'echo "$PATH"']);
    await again.p.exited;
    expect(await text(again.out)).toBe(`${process.env.PATH ?? '/usr/bin:/bin'}\n`);
  });

  it('starts a leaf with no signal blocked or ignored (the server blocks all of them around its vfork)', async () => {
    const { p, out } = await run(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
    await p.exited;
    expect(await text(out)).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('rejects ENOENT for a missing program and ends the spools', async () => {
    const out = spool();
    const err = spool();
    await expect(run(['no-such-program-xyz'], { stdout: out, stderr: err })).rejects.toMatchObject({
      name: 'FsError',
      code: 'ENOENT',
      message: 'exec no-such-program-xyz: file does not exist',
    });
    await out.waitFor(0);
    await err.waitFor(0);
    expect(out.ended && err.ended).toBe(true);
  });

  it('rejects EACCES for a file that is not executable', async () => {
    const f = join(dir, 'script');
    writeFileSync(f, '#!/bin/sh\necho no\n');
    chmodSync(f, 0o644);
    await expect(run([f])).rejects.toMatchObject({ code: 'EACCES', message: `exec ${f}: permission denied` });
  });

  it('maps other exec errors: to their code if FsError has it, else EIO with the text', async () => {
    const loop = join(dir, 'loop');
    symlinkSync(loop, loop);
    await expect(run([loop])).rejects.toMatchObject({
      code: 'EIO',
      message: `exec ${loop}: too many symbolic links encountered`,
    });
    const long = join(dir, 'a'.repeat(300));
    await expect(run([long])).rejects.toMatchObject({ code: 'ENAMETOOLONG', message: `exec ${long}: name too long` });
  });

  it('runs a script without #! through sh, as execvp does', async () => {
    const f = join(dir, 'plain');
    writeFileSync(f, 'echo plain script\n');
    chmodSync(f, 0o755);
    const { p, out } = await run([f]);
    await p.exited;
    expect(await text(out)).toBe('plain script\n');
  });

  it('rejects a bad cwd', async () => {
    await expect(run(['true'], { cwd: join(dir, 'missing') })).rejects.toMatchObject({ code: 'ENOENT' });
    writeFileSync(join(dir, 'file'), '');
    await expect(run(['true'], { cwd: join(dir, 'file') })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('rejects EIO when the fork server cannot start, and EINVAL for an empty argv', async () => {
    await expect(Spawner.start(join(dir, 'no-spawnd'))).rejects.toMatchObject({ code: 'EIO' });
    await expect(run([])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(run(['a\0b'])).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(run(['true'], { nice: Number.NaN })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('round-trips stdin through cat, and closeStdin gives cat EOF', async () => {
    const { p, out } = await run(['cat']);
    await p.writeStdin(Buffer.from('hello\n'));
    await waitText(out, 'hello\n');
    await p.writeStdin(Buffer.from('world\n'));
    await waitText(out, 'world\n');
    expect(p.running).toBe(true);
    p.closeStdin();
    const info = await p.exited;
    expect(info.status).toBe('');
    expect(await text(out)).toBe('hello\nworld\n');
    await expect(p.writeStdin(Buffer.from('late'))).rejects.toMatchObject({ code: 'EIO', message: 'stdin closed' });
  });

  it('pushes 8 MiB through cat with back-pressure on both sides', async () => {
    const { p, out } = await run(['cat']);
    const data = randomBytes(8 << 20);
    for (let i = 0; i < data.length; i += 100_000) await p.writeStdin(data.subarray(i, i + 100_000));
    p.closeStdin();
    await p.exited;
    const h = createHash('sha256');
    for (let off = 0; ; ) {
      const b = await out.read(off, 1 << 20);
      if (b.length === 0) break;
      h.update(b);
      off += b.length;
    }
    expect(out.length).toBe(data.length);
    expect(h.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('a leaf that does not read holds its writer once its pipe (grown to 1 MiB) and the 256 KiB window are full', async () => {
    const { p } = await run(['sleep', '100']);
    const chunk = Buffer.alloc(64 * 1024);
    let accepted = 0;
    for (;;) {
      const write = p.writeStdin(chunk);
      const done = await Promise.race([write.then(() => true), sleep(300).then(() => false)]);
      if (!done) {
        write.catch(() => undefined); // rejected when the leaf is killed below
        break;
      }
      accepted += chunk.length;
      expect(accepted).toBeLessThanOrEqual((1 << 20) + STDIN_WINDOW);
    }
    expect(accepted).toBeGreaterThanOrEqual(STDIN_WINDOW);
  });

  it('writing to a process that does not read fails with EIO, not a crash', async () => {
    const { p } = await run(['sh', '-c', 'exec 0<&-; sleep 0.2']);
    const big = Buffer.alloc(4 << 20);
    await expect(
      (async () => {
        for (;;) await p.writeStdin(big);
      })(),
    ).rejects.toMatchObject({ code: 'EIO', message: 'stdin closed' });
    expect((await p.exited).status).toBe('');
  });

  it('measures cpu time', async () => {
    // Counted, not timed: on a loaded machine a timed loop gets less CPU.
    const { p } = await run([
      process.execPath,
      '-e',
      'let x = 0; for (let i = 0; i < 3e8; i++) x += i; console.log(x > 0)',
    ]);
    const info = await p.exited;
    expect(info.status).toBe('');
    expect(info.userMs).toBeGreaterThan(100);
    expect(info.sysMs).toBeGreaterThanOrEqual(0);
    expect(info.realMs).toBeGreaterThanOrEqual(info.userMs * 0.5);
  });

  it('gives the command its own process group', async () => {
    const { p } = await run(['sleep', '100']);
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[2])).toBe(p.pid); // pgrp
    expect(Number(fields[1])).not.toBe(process.pid); // ppid: the fork server, not us
  });

  it('kill escalates to SIGKILL, status killed, group gone', async () => {
    const { p, out } = await run(['sh', '-c', 'trap "" TERM; echo ready; sleep 100']);
    await waitText(out, 'ready');
    const t = performance.now();
    await p.kill(300);
    expect(performance.now() - t).toBeGreaterThanOrEqual(250);
    expect((await p.exited).status).toBe('killed');
    expect(p.running).toBe(false);
    expect(groupAlive(p.pid)).toBe(false);
  });

  it('kill of a cooperative process is quick', async () => {
    const { p } = await run(['sleep', '100']);
    const t = performance.now();
    await p.kill(5000);
    expect(performance.now() - t).toBeLessThan(2000);
    expect((await p.exited).status).toBe('killed');
  });

  it('what the leader leaves in its group is cleaned when it exits', async () => {
    const { p, out } = await run(['sh', '-c', 'sleep 100 & echo started']);
    await waitText(out, 'started');
    const info = await p.exited; // the sleep held stdout: it was killed, so the output ended
    expect(info.status).toBe('');
    await eventually(() => !groupAlive(p.pid), 4000);
  });

  it('a detached background grandchild is cleaned too', async () => {
    const { p } = await run(['sh', '-c', 'sleep 100 </dev/null >/dev/null 2>&1 &']);
    expect((await p.exited).status).toBe('');
    await eventually(() => !groupAlive(p.pid), 4000);
  });

  it('signal() reaches the group: SIGUSR1 to sleep', async () => {
    const { p } = await run(['sleep', '100']);
    p.signal('SIGUSR1');
    expect((await p.exited).status).toBe('signal: 10');
    p.signal('SIGTERM'); // after the end: a no-op, not an error
    expect(() => {
      const q = p;
      q.signal(10);
    }).not.toThrow();
  });

  it('signal() accepts numbers and rejects unknown names', async () => {
    const { p } = await run(['sleep', '100']);
    expect(() => p.signal('SIGBOGUS' as NodeJS.Signals)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    p.signal(15);
    expect((await p.exited).status).toBe('signal: 15');
  });

  it('when the fork server dies its leaves are killed and exited resolves', async () => {
    const own = await Spawner.start(SPAWND);
    const p = await LeafProcess.start({
      argv: ['sleep', '100'],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      spawner: own,
      stdout: spool(),
      stderr: spool(),
    });
    const serverPid = (own as unknown as { proc: { pid: number } }).proc.pid;
    process.kill(serverPid, 'SIGKILL');
    const info = await p.exited;
    expect(info.status).toBe('signal: 9');
    await eventually(() => groupDead(p.pid), 1000);
  });

  it('when the daemon dies the fork server kills every group (PDEATHSIG)', async () => {
    // A node process stands in for the daemon: it starts a fork server and a leaf, then is SIGKILLed.
    const script = `
      const { Spawner } = await import(${JSON.stringify(join(ROOT, 'dist/exec/spawner.js'))});
      const { LeafProcess } = await import(${JSON.stringify(join(ROOT, 'dist/exec/process.js'))});
      const { FileSpool } = await import(${JSON.stringify(join(ROOT, 'dist/exec/spool.js'))});
      const sp = await Spawner.start(${JSON.stringify(SPAWND)});
      const mk = (n) => new FileSpool(${JSON.stringify(dir)} + '/' + n);
      const p = await LeafProcess.start({ argv: ['sleep', '100'], cwd: '/', env: { PATH: process.env.PATH }, spawner: sp, stdout: mk('o'), stderr: mk('e') });
      console.log(p.pid);
      setInterval(() => {}, 1000);`;
    const daemon = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = Number(await new Promise<string>((r) => daemon.stdout!.once('data', (d: Buffer) => r(d.toString()))));
    stray.push(pid);
    expect(groupAlive(pid)).toBe(true);
    daemon.kill('SIGKILL');
    await eventually(() => groupDead(pid), 2000);
  });

  it('a spool file is made with the first byte: a silent stream has none', async () => {
    const { p, out, err } = await run(['echo', 'hi']);
    await p.exited;
    expect(existsSync(out.path)).toBe(true);
    expect(existsSync(err.path)).toBe(false);
    expect(err.ended).toBe(true);
    expect((await err.read(0, 10)).length).toBe(0);
  });

  it('a leaf inherits its stdio and nothing else; they are pipes, so /dev/stdout reopens', async () => {
    const { p, out } = await run(['sh', '-c', 'ls /proc/self/fd; echo reopened > /dev/stdout']);
    await p.exited;
    expect(await text(out)).toBe('0\n1\n2\n3\nreopened\n'); // 3 is ls's own handle on the directory
  });

  it('the spool limit leaves the writer blocked, losing nothing, until it is raised', async () => {
    const own = await Spawner.start(SPAWND);
    try {
      own.setSpoolLimit(100_000);
      const { p, out } = await run(['head', '-c', '1000000', '/dev/zero'], { spawner: own });
      await eventually(() => out.length === 100_000);
      await sleep(300);
      expect(out.length).toBe(100_000);
      expect(p.running).toBe(true);
      own.setSpoolLimit(0);
      expect((await p.exited).status).toBe('');
      expect(out.length).toBe(1_000_000);
    } finally {
      await own.close();
    }
  });

  it('kill of a leaf whose output is held by a process that left its group drops the output and ends', async () => {
    const { p, out } = await run(['sh', '-c', 'setsid sh -c "echo escaped; exec sleep 100" & wait']);
    await waitText(out, 'escaped\n');
    const escaped = Number(execFileSync('pgrep', ['-f', '-n', '^sleep 100$']).toString().trim());
    stray.push(escaped);
    await p.kill(200);
    expect(out.ended).toBe(true);
    expect(await text(out)).toBe('escaped\n');
  });

  it('spools 200 MB of output with bounded memory', async () => {
    const out = spool();
    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const t = performance.now();
    const { p } = await run(['head', '-c', '200000000', '/dev/zero'], { stdout: out });
    const info = await p.exited;
    clearInterval(timer);
    const ms = performance.now() - t;
    expect(info.status).toBe('');
    expect(out.length).toBe(200_000_000);
    console.log(
      `200 MB through a spool: ${ms.toFixed(0)} ms, rss ${(base / 1e6).toFixed(0)} MB -> peak ${(peak / 1e6).toFixed(0)} MB`,
    );
    expect(peak - base).toBeLessThan(100e6);
    // The bytes are in the file, none in this process: spot check the end.
    const tail = await out.read(200_000_000 - 10, 100);
    expect(tail.length).toBe(10);
    expect(tail.every((b) => b === 0)).toBe(true);
  }, 60_000);

  // How fast is for scripts/bench; here only that starts in a row all work (the time is printed, not judged).
  it('forty starts in a row through the fork server each run and exit 0', async () => {
    const n = 40;
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const { p } = await run(['true']);
      expect((await p.exited).status).toBe('');
    }
    const per = (performance.now() - t) / n;
    console.log(`start+exit of 'true' through taskfs-spawnd: ${per.toFixed(2)} ms per process`);
  }, 60_000);
});

afterAll(async () => {
  await spawner?.close();
  // Nothing of ours may survive the suite.
  for (const g of stray) expect(groupDead(g)).toBe(true);
});
