/**
 * Real node processes for integration tests: `bin/taskfs` started as a
 * child process (the serving process must never touch its own mount), and
 * the mount driven with `sh` from other child processes.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repo = resolve(import.meta.dirname, '../..');
export const taskfsBin = join(repo, 'bin/taskfs');

export interface Daemon {
  mnt: string;
  dir: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM and wait for exit; escalates to SIGKILL after 10 s. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const live = new Set<Daemon>();

export async function startMount(
  args: string[] = [],
  opts: { dir?: string; mnt?: string; env?: Record<string, string> } = {},
): Promise<Daemon> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'taskfs-test-')));
  const mnt = opts.mnt ?? join(dir, 'mnt');
  return startDaemon(['mount', mnt, '--workdir', join(dir, 'work'), ...args], dir, mnt, /mounted on/, {
    env: opts.env,
  });
}

/**
 * A `taskfs serve` node on an ephemeral loopback port; `addr` is where it
 * listens. `wrap` gives a command that execs the rest of its arguments
 * (e.g. unshare with a tmpfs on the workdir), given the workdir.
 */
export async function startServe(
  args: string[] = [],
  opts: { env?: Record<string, string>; wrap?: (workdir: string) => string[] } = {},
): Promise<Daemon & { addr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'taskfs-serve-'));
  const d = await startDaemon(
    ['serve', '--listen', 'tcp!127.0.0.1!0', '--workdir', join(dir, 'work'), ...args],
    dir,
    '',
    /listening on (\S+)/,
    { env: opts.env, wrap: opts.wrap?.(join(dir, 'work')) },
  );
  return Object.assign(d, { addr: /listening on (\S+)/.exec(d.stderr())![1]! });
}

/** `bin/taskfs ARGV`, run through `opts.wrap` when given (e.g. `unshare -m`); ready once stderr matches. */
export async function startDaemon(
  argv: string[],
  dir: string,
  mnt: string,
  ready: RegExp,
  opts: { env?: Record<string, string>; wrap?: string[] } = {},
): Promise<Daemon> {
  const [cmd, ...rest] = opts.wrap ? [...opts.wrap, taskfsBin, ...argv] : [taskfsBin, ...argv];
  const proc = spawn(cmd!, rest, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  await new Promise<void>((resolvePromise, reject) => {
    const onData = (chunk: string) => {
      err += chunk;
      if (ready.test(err)) resolvePromise();
    };
    proc.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`taskfs ${argv[0]} exited ${code}: ${err}`)));
  });
  const daemon: Daemon = {
    mnt,
    dir,
    proc,
    exited,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      live.delete(daemon);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      if (mnt) await sh(`fusermount -uz ${mnt} 2>/dev/null; true`);
      return proc.exitCode;
    },
  };
  live.add(daemon);
  return daemon;
}

/** Stop every daemon a suite left running (afterAll), and remove its files. */
export async function stopAll(): Promise<void> {
  for (const d of [...live]) {
    await d.stop();
    await rm(d.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export interface ShResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run a shell script; never throws on a non-zero exit (tests look at code). */
export function sh(
  script: string,
  opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {},
): Promise<ShResult> {
  return new Promise((resolvePromise) => {
    execFile(
      'sh',
      ['-c', script],
      {
        cwd: opts.cwd,
        timeout: opts.timeout ?? 60_000,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, ...opts.env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ stdout, stderr, code });
      },
    );
  });
}

/** `sh` that must succeed: returns stdout. */
export async function run(
  script: string,
  opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {},
): Promise<string> {
  const r = await sh(script, opts);
  if (r.code !== 0) throw new Error(`sh -c ${JSON.stringify(script)} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

export { isMounted } from '../../src/fuse/mountinfo.js';

/** Pids of live processes whose command line (words joined by blanks) matches `pattern`. */
export async function pidsMatching(pattern: string | RegExp): Promise<number[]> {
  const re = typeof pattern === 'string' ? new RegExp(pattern) : pattern;
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [cmdline, stat] = await Promise.all([
      readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''),
    ]);
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === '') continue; // zombies are dead, whoever reaps them
    if (re.test(cmdline.replace(/\0$/, '').split('\0').join(' '))) pids.push(Number(entry));
  }
  return pids;
}

export async function until<T>(probe: () => Promise<T | undefined | false>, ms = 10_000, step = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Peak resident memory of a process (VmHWM), in bytes. */
export async function peakRss(pid: number): Promise<number> {
  return Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}
