/**
 * LeafProcess: one running leaf command, started through the taskfs-run helper
 * (native/taskfs-run.c), which puts the command in its own process group and
 * reports on fd 3: `ok PID`, `fail ERRNO STAGE`, `exit PID CODE SIGNAL USER_US SYS_US`.
 *
 * After `exit` the helper lingers until the command's process group is empty.
 * So "helper alive" means "the group may still have members": signals go to the
 * group only while the helper lives, never to a pgid the kernel may have recycled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { resolve as resolvePath } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { getSystemErrorMap } from 'node:util';
import createDebug from 'debug';
import { FsError, asFsError, isErrorCode } from '../ns/errors.js';
import { signalNumber } from './signals.js';
import type { Quota } from './quota.js';
import type { Spool } from './spool.js';

const log = createDebug('taskfs:exec');

export interface ExitInfo { pid: number; userMs: number; sysMs: number; realMs: number; status: string }
// status: '' for exit 0, 'exit: N', 'killed' (ended after our kill()), 'signal: N' (any other signal; N the number)
export interface StartRequest {
  argv: string[]; cwd: string; env: Record<string, string>; nice?: number; stdout: Spool; stderr: Spool; helperPath: string;
  /** Bytes both streams may spool before the process is paused (see quota.ts). */
  quota?: Quota;
}

interface ExitReport { code: number; signal: number; userUs: number; sysUs: number }

export class LeafProcess {
  /** Resolves once the process has exited AND the stdout/stderr spools have ended; never rejects. */
  readonly exited: Promise<ExitInfo>;

  private readonly child: ChildProcess;
  private readonly argv0: string;
  private readonly quota?: Quota;
  private readonly t0 = performance.now();
  private pidValue = 0;
  private started = false;
  private onStarted: ((err?: FsError) => void) | undefined;
  private failure: FsError | undefined;

  private stdinOpen = true;
  private killRequested = false;
  /** The command's end: from its `exit` line, or made up when the helper died without one. */
  private info: ExitInfo | undefined;
  private outputsOpen = 2;
  private finished = false;
  private resolveExited!: (info: ExitInfo) => void;

  private helperExited = false;
  private helperStatus: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
  private reportClosed = false;
  private readonly helperGone: Promise<void>;
  private resolveHelperGone!: () => void;

  /**
   * Spawns the helper, resolves once it says `ok PID`. Rejects with ENOENT/EACCES/ENOTDIR
   * (or the errno's own code, EIO when it has none) on `fail`, EIO when the helper cannot
   * start. The spools are always ended by the time the output pipes close, failure included.
   */
  static start(req: StartRequest): Promise<LeafProcess> {
    return new Promise((resolve, reject) => {
      let p: LeafProcess;
      try {
        p = new LeafProcess(req, (err) => (err ? reject(err) : resolve(p)));
      } catch (err) {
        req.stdout.end();
        req.stderr.end();
        reject(err instanceof FsError ? err : new FsError('EINVAL', `exec ${req.argv[0] ?? ''}: ${(err as Error).message}`));
      }
    });
  }

  private constructor(req: StartRequest, onStarted: (err?: FsError) => void) {
    if (req.argv.length === 0 || req.argv[0] === '') throw new FsError('EINVAL', 'exec: empty command');
    if (req.nice !== undefined && !Number.isFinite(req.nice)) throw new FsError('EINVAL', `exec: bad nice ${req.nice}`);
    this.argv0 = req.argv[0];
    this.quota = req.quota;
    this.onStarted = onStarted;
    this.exited = new Promise((r) => { this.resolveExited = r; });
    this.helperGone = new Promise((r) => { this.resolveHelperGone = r; });

    const args: string[] = [];
    if (req.nice !== undefined) args.push('-n', String(Math.trunc(req.nice)));
    if (req.cwd !== '') args.push('-d', resolvePath(req.cwd));
    args.push('--', ...req.argv);
    log('spawn %s %o', req.helperPath, args);
    // Throws synchronously on bad arguments (e.g. NUL bytes): start() maps it to EINVAL.
    this.child = spawn(req.helperPath, args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,   // the helper leads its own session: terminal and group signals aimed at the daemon miss it
      env: req.env,
    });
    const child = this.child;

    child.on('error', (err) => {
      // Spawn failure (ENOENT, EACCES, EAGAIN...), or a failed child.kill(): only the first matters.
      log('helper error: %O', err);
      if (!this.started) {
        this.failStart(new FsError('EIO', `exec ${this.argv0}: cannot start ${req.helperPath}: ${err.message}`));
        req.stdout.end();
        req.stderr.end();
        this.onHelperExit(null, null);
        this.onReportClosed();
      }
    });
    child.on('exit', (code, signal) => this.onHelperExit(code, signal));

    const stdin = child.stdin as Writable;
    stdin.on('error', (err) => log('stdin %d: %s', this.pidValue, err.message));   // EPIPE must not crash us

    this.pump(child.stdout as Readable, req.stdout, 'stdout');
    this.pump(child.stderr as Readable, req.stderr, 'stderr');

    const report = child.stdio[3] as Readable;
    let pending = '';
    report.setEncoding('latin1');
    report.on('data', (s: string) => {
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        this.onReport(line, req.cwd);
      }
    });
    report.on('error', (err) => log('report pipe: %s', err.message));
    report.on('end', () => this.onReportClosed());
    report.on('close', () => this.onReportClosed());
  }

  /** The command's pid, which is also its process group id. */
  get pid(): number { return this.pidValue; }

  /** True until `exited` resolves. */
  get running(): boolean { return !this.finished; }

  /** Write to the process stdin; resolves once the pipe took the bytes (so a full pipe holds the writer back). */
  async writeStdin(data: Buffer): Promise<void> {
    const stdin = this.child.stdin;
    if (!this.stdinOpen || this.info || !stdin || stdin.destroyed || stdin.writableEnded) {
      throw new FsError('EIO', 'stdin closed');
    }
    if (data.length === 0) return;
    await new Promise<void>((resolve, reject) => {
      // The callback runs once these bytes are handed to the kernel (or with an error: EPIPE, destroyed).
      stdin.write(data, (err) => (err ? reject(new FsError('EIO', 'stdin closed')) : resolve()));
    });
  }

  closeStdin(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.child.stdin?.end();
  }

  /** Signal the whole process group. A no-op once the group is known to be gone. */
  signal(sig: NodeJS.Signals | number): void {
    if (this.pidValue === 0 || this.helperExited) return;
    try {
      process.kill(-this.pidValue, sig);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') return;
      if (code === 'ERR_UNKNOWN_SIGNAL' || err instanceof TypeError || err instanceof RangeError) {
        throw new FsError('EINVAL', `unknown signal ${String(sig)}`);
      }
      throw asFsError(err);
    }
  }

  /** SIGTERM to the group, SIGKILL after graceMs if still running; resolves when exited. */
  async kill(graceMs = 2000): Promise<void> {
    if (!this.info) this.killRequested = true;
    log('kill %d', this.pidValue);
    this.signal('SIGTERM');
    this.signal('SIGCONT');   // a stopped process would not act on SIGTERM
    if (!(await this.settledWithin(graceMs))) {
      log('kill %d: SIGKILL', this.pidValue);
      this.signal('SIGKILL');
      if (!(await this.settledWithin(graceMs))) {
        // The group is dead, yet our output pipes are open: held by a process that left
        // the group (setsid). Stop waiting for it.
        log('kill %d: output still open, closing it', this.pidValue);
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
      }
    }
    await this.exited;
    await within(this.helperGone, graceMs);
  }

  // ---- internals ----

  private settledWithin(ms: number): Promise<boolean> {
    return within(Promise.all([this.exited, this.helperGone]), ms);
  }

  private pump(stream: Readable, spool: Spool, what: string): void {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      spool.end();
      this.outputsOpen--;
      this.maybeFinish();
    };
    stream.on('data', (chunk: Buffer) => {
      let more = true;
      try {
        more = spool.append(chunk);
      } catch (err) {
        log('%s %d: append: %s', what, this.pidValue, (err as Error).message);   // spool ended by someone else
      }
      const quota = this.quota;
      if (quota && !quota.charge(chunk.length)) more = false;
      if (!more) {
        // Paused, the pipe fills and the process blocks in write(2): nothing is lost.
        stream.pause();
        void Promise.all([spool.drained(), quota?.room()]).then(() => { if (!done) stream.resume(); });
      }
    });
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', (err) => {
      log('%s %d: %s', what, this.pidValue, err.message);
      finish();
    });
  }

  private onReport(line: string, cwd: string): void {
    const f = line.split(' ');
    switch (f[0]) {
      case 'ok':
        this.pidValue = Number(f[1]);
        this.started = true;
        log('started %s as %d in %dms', this.argv0, this.pidValue, (performance.now() - this.t0).toFixed(1));
        this.settleStart();
        return;
      case 'fail':
        this.failStart(failError(Number(f[1]), f[2] ?? 'exec', this.argv0, cwd));
        return;
      case 'exit':
        this.setExit({ code: Number(f[2]), signal: Number(f[3]), userUs: Number(f[4]), sysUs: Number(f[5]) });
        return;
      default:
        log('helper said %j', line);
    }
  }

  private setExit(r: ExitReport): void {
    if (this.info) return;
    let status: string;
    if (this.killRequested) status = 'killed';
    else if (r.signal > 0) status = `signal: ${r.signal}`;
    else if (r.code !== 0) status = `exit: ${r.code}`;
    else status = '';
    this.info = {
      pid: this.pidValue,
      userMs: r.userUs / 1000,
      sysMs: r.sysUs / 1000,
      realMs: performance.now() - this.t0,
      status,
    };
    log('exit %d %j', this.pidValue, this.info);
    // Nobody can write to the command any more: release the pipe (pending writes fail with 'stdin closed').
    this.stdinOpen = false;
    this.child.stdin?.destroy();
    this.maybeFinish();
  }

  private onHelperExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.helperExited) return;
    this.helperExited = true;
    this.helperStatus = { code, signal };
    this.resolveHelperGone();
    this.maybeHelperDied();
  }

  private onReportClosed(): void {
    if (this.reportClosed) return;
    this.reportClosed = true;
    this.maybeHelperDied();
  }

  /** The helper is gone and said all it will say. Without an `exit` line, make up the end. */
  private maybeHelperDied(): void {
    if (!this.helperExited || !this.reportClosed) return;
    const { code, signal } = this.helperStatus;
    if (!this.started) {
      this.failStart(new FsError('EIO', `exec ${this.argv0}: helper ended (${signal ?? `code ${code}`}) before starting it`));
      return;
    }
    if (this.info) return;
    log('helper of %d died (%s): killing the group', this.pidValue, signal ?? code);
    // The command may still run, orphaned: leave nothing behind. (Not via signal(): the helper is gone.)
    try { process.kill(-this.pidValue, 'SIGKILL'); } catch { /* ESRCH: already gone */ }
    const sig = signal ? signalNumber(signal) ?? 0 : 0;
    this.setExit(sig > 0 ? { code: -1, signal: sig, userUs: 0, sysUs: 0 } : { code: code ?? -1, signal: 0, userUs: 0, sysUs: 0 });
  }

  private maybeFinish(): void {
    if (this.finished || !this.info || this.outputsOpen > 0) return;
    this.finished = true;
    this.resolveExited(this.info);
  }

  private settleStart(): void {
    const cb = this.onStarted;
    this.onStarted = undefined;
    cb?.(this.failure);
  }

  private failStart(err: FsError): void {
    if (this.started || this.failure) return;
    this.failure = err;
    log('start %s failed: %s', this.argv0, err.message);
    this.settleStart();
  }
}

/** true if `p` settles within `ms`, false otherwise; the timer never outlives the wait. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), Math.max(0, ms)); });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failError(errno: number, stage: string, argv0: string, cwd: string): FsError {
  const entry = getSystemErrorMap().get(-errno);
  const name = entry?.[0];
  const what = stage === 'chdir' ? `chdir ${cwd}` : `exec ${argv0}`;
  switch (name) {
    case 'ENOENT': return new FsError('ENOENT', `${what}: file does not exist`);
    case 'EACCES': return new FsError('EACCES', `${what}: permission denied`);
    case 'ENOTDIR': return new FsError('ENOTDIR', `${what}: not a directory`);
  }
  const text = entry?.[1] ?? `errno ${errno}`;
  return new FsError(isErrorCode(name) ? name : 'EIO', `${what}: ${text}`);
}
