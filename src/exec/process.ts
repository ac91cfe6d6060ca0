/**
 * LeafProcess: one running leaf command, started by the node's process
 * server (spawner.ts, native/spawnd-*.c), which puts it in its own
 * process group, spools its output and tells us: started (pid) or failed;
 * how long its output is; exited (code, signal, CPU times); gone (no
 * process of the group is left).
 *
 * Until `gone` the group may still have members, so signals go to the
 * group only before it: never to a pgid the kernel may have recycled.
 */
import { resolve as resolvePath } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import createDebug from 'debug';
import { FsError, asFsError, isErrorCode } from '../ns/errors.js';
import type { Command, ExitReport, LeafChannel, Spawner } from './spawner.js';
import type { FileSpool } from './spool.js';

const log = createDebug('taskfs:exec');

/** status: '' for exit 0, 'exit: N', 'killed' (ended after our kill()), 'signal: N' (any other signal). */
export interface ExitInfo {
  pid: number;
  userMs: number;
  sysMs: number;
  realMs: number;
  status: string;
}

export interface StartRequest extends Command {
  /** Where the process server spools stdout and stderr. */
  stdout: FileSpool;
  stderr: FileSpool;
  spawner: Spawner;
}

export class LeafProcess {
  /** Resolves once the process has exited AND the stdout/stderr spools have ended; never rejects. */
  readonly exited: Promise<ExitInfo>;

  private readonly argv0: string;
  private readonly t0 = performance.now();
  private readonly spools: [FileSpool, FileSpool];
  private channel!: LeafChannel;
  private pidValue = 0;
  private stdinOpen = true;
  private killRequested = false;
  private info: ExitInfo | undefined;
  private outputsOpen = 2;
  private finished = false;
  private groupGone = false;
  private resolveExited!: (info: ExitInfo) => void;
  private readonly gone: Promise<void>;
  private resolveGone!: () => void;

  /**
   * Resolves once the process runs. Rejects with ENOENT/EACCES/ENOTDIR (or
   * the errno's own code, EIO when it has none) when it cannot start; the
   * spools are ended then.
   */
  static start(req: StartRequest): Promise<LeafProcess> {
    if (req.argv.length === 0 || req.argv[0] === '')
      return Promise.reject(new FsError('EINVAL', 'exec: empty command'));
    if (req.nice !== undefined && !Number.isFinite(req.nice))
      return Promise.reject(new FsError('EINVAL', `exec: bad nice ${req.nice}`));
    return new Promise((resolve, reject) => {
      const p = new LeafProcess(req, (err) => (err ? reject(err) : resolve(p)));
    });
  }

  private constructor(req: StartRequest, onStarted: (err?: FsError) => void) {
    this.argv0 = req.argv[0]!;
    this.spools = [req.stdout, req.stderr];
    this.exited = new Promise((r) => (this.resolveExited = r));
    this.gone = new Promise((r) => (this.resolveGone = r));
    const cwd = req.cwd === '' ? '' : resolvePath(req.cwd);
    const fail = (err: FsError) => {
      req.stdout.end();
      req.stderr.end();
      onStarted(err);
    };
    try {
      this.channel = req.spawner.spawn(
        {
          argv: req.argv,
          cwd,
          makeCwd: req.makeCwd,
          env: req.env,
          sharedEnv: req.sharedEnv,
          nice: req.nice,
          stdoutPath: req.stdout.path,
          stderrPath: req.stderr.path,
        },
        {
          started: (pid) => {
            this.pidValue = pid;
            log('started %s as %d in %sms', this.argv0, pid, (performance.now() - this.t0).toFixed(1));
            onStarted();
          },
          failed: (errno, stage) => fail(failError(errno, stage, this.argv0, cwd)),
          output: (k, length, ended) => this.onOutput(this.spools[k - 1], length, ended),
          exited: (r) => this.setExit(r),
          gone: () => {
            this.groupGone = true;
            this.resolveGone();
          },
        },
      );
    } catch (err) {
      fail(asFsError(err, 'EINVAL'));
    }
  }

  /** The command's pid, which is also its process group id. */
  get pid(): number {
    return this.pidValue;
  }

  /** True until `exited` resolves. */
  get running(): boolean {
    return !this.finished;
  }

  /** Write to the process stdin; resolves once its pipe took the bytes (so a full one holds the writer back). */
  async writeStdin(data: Buffer): Promise<void> {
    if (!this.stdinOpen || this.info) throw new FsError('EIO', 'stdin closed');
    await this.channel.writeStdin(data);
  }

  closeStdin(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    this.channel.closeStdin();
  }

  /** Signal the whole process group. A no-op once the group is known to be gone. */
  signal(sig: NodeJS.Signals | number): void {
    if (this.pidValue === 0 || this.groupGone) return;
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
    this.signal('SIGCONT'); // a stopped process would not act on SIGTERM
    if (!(await within(Promise.all([this.exited, this.gone]), graceMs))) {
      log('kill %d: SIGKILL', this.pidValue);
      this.signal('SIGKILL');
      if (!(await within(this.exited, graceMs))) {
        // The group is dead, yet our output is open: held by a process that
        // left the group (setsid), or full at the spool limit. Stop spooling it.
        log('kill %d: output still open, dropping it', this.pidValue);
        this.channel.dropOutput();
      }
    }
    await this.exited;
    await within(this.gone, graceMs);
  }

  private onOutput(spool: FileSpool, length: number, ended: boolean): void {
    spool.advance(length);
    if (!ended) return;
    this.outputsOpen--;
    this.maybeFinish();
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
    // Nobody can write to the command any more (pending writes fail with 'stdin closed').
    this.stdinOpen = false;
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.info || this.outputsOpen > 0) return;
    this.finished = true;
    // Exited first, so whoever watches it (the leaf's state) hears before readers see EOF.
    this.resolveExited(this.info);
    for (const spool of this.spools) spool.end();
  }
}

/** true if `p` settles within `ms`, false otherwise; the timer never outlives the wait. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, ms))));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failError(errno: number, stage: string, argv0: string, cwd: string): FsError {
  if (errno === 0) return new FsError('EIO', stage);
  const name = getSystemErrorMap().get(-errno)?.[0];
  const what = stage === 'chdir' ? `chdir ${cwd}` : `exec ${argv0}`;
  switch (name) {
    case 'ENOENT':
      return new FsError('ENOENT', `${what}: file does not exist`);
    case 'EACCES':
      return new FsError('EACCES', `${what}: permission denied`);
    case 'ENOTDIR':
      return new FsError('ENOTDIR', `${what}: not a directory`);
  }
  const text = getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
  return new FsError(isErrorCode(name) ? name : 'EIO', `${what}: ${text}`);
}
