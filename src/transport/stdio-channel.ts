/**
 * A child node reached through a program that ends in `taskfs serve
 * --stdio` on the other side (ssh, srun): the program is
 * started, the remote node's ready line awaited on its stderr (with the
 * remote's version in it), and its stdin and stdout become the 9P stream.
 * Before the ready line, the program's exit is a failure whose reason is
 * its last stderr line; after it, the exit is the stream's error, so the
 * node is Lost with that reason. Closing ends the program's stdin (the
 * remote node stops on EOF) and waits for it to exit, then kills its
 * process group if it does not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';

const log = createDebug('taskfs:ssh');

/**
 * What `taskfs serve --stdio` prints on stderr once its node runs (src/cli/serve.ts):
 * `taskfs: node NAME serving stdin/stdout (N slots, workdir DIR, taskfs VERSION)`.
 */
export const READY = /serving stdin\/stdout \(.*\btaskfs (\S+)\)$/;

/** How the program ended before the remote node was ready. */
export interface EarlyExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last non-empty line it wrote on stderr, if any. */
  lastLine: string;
  /** The tail of what it wrote on stderr (srun's reasons take several lines). */
  stderr: string;
  /** It was not ready in time (and was killed). */
  timedOut: boolean;
  /** It could not be started at all (ENOENT ...). */
  spawnError?: Error;
}

export interface ChannelOptions {
  /** Names the other end in logs. */
  label: string;
  /** Time for the program to connect and the remote node to start. */
  readyTimeoutMs: number;
  /** After stdin is closed, how long the program may take to exit before it is killed. */
  exitGraceMs?: number;
}

/** Bytes of stderr kept for the failure reason: the tail of it. */
const STDERR_TAIL = 8192;

export class StdioChannel {
  /** Settles when the program has exited (and its stdio closed). */
  readonly exited: Promise<void>;
  private stderrTail = '';

  private constructor(
    readonly proc: ChildProcess,
    private readonly label: string,
    private readonly exitGraceMs: number,
  ) {
    // A program that could not be started never closes: its error is its end.
    this.exited = new Promise((resolve) => {
      proc.once('close', () => resolve());
      proc.once('error', () => proc.pid === undefined && resolve());
    });
    // A write into a program that died is its exit's business, not an exception.
    proc.stdin!.on('error', (err) => log('%s: stdin: %s', label, err.message));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
      for (const line of chunk.split('\n')) if (line.trim()) log('%s: %s', label, line.trim());
    });
  }

  /**
   * Starts `argv` and resolves once the remote node says it is ready, with
   * the version it reported; rejects with the early exit otherwise (the
   * caller words the reason: it knows what the program was).
   */
  static async start(
    argv: readonly string[],
    opts: ChannelOptions,
  ): Promise<{ channel: StdioChannel; version: string }> {
    // Its own session: no terminal to prompt on, and no Ctrl-C of the
    // daemon's terminal reaches it (the daemon ends it in order instead).
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const channel = new StdioChannel(proc, opts.label, opts.exitGraceMs ?? 5000);
    const version = await new Promise<string>((resolve, reject) => {
      let spawnError: Error | undefined;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        channel.kill('SIGKILL');
      }, opts.readyTimeoutMs);
      const onData = () => {
        const m = READY.exec(channel.stderrTail.split('\n').find((l) => READY.test(l)) ?? '');
        if (!m) return;
        clearTimeout(timer);
        proc.stderr!.off('data', onData);
        resolve(m[1]!);
      };
      proc.stderr!.on('data', onData);
      proc.once('error', (err) => (spawnError = err));
      void channel.exited.then(() => {
        clearTimeout(timer);
        const { exitCode: code, signalCode: signal } = proc;
        reject({
          code,
          signal,
          lastLine: channel.lastLine(),
          stderr: channel.stderrTail,
          timedOut,
          spawnError,
        } satisfies EarlyExit);
      });
    });
    return { channel, version };
  }

  /** The last non-empty stderr line: what ssh (or the remote) said last. */
  lastLine(): string {
    const lines = this.stderrTail.split('\n').filter((l) => l.trim() !== '');
    return lines.at(-1)?.trim() ?? '';
  }

  /**
   * The 9P stream over the program's stdio. Its end is the program's exit,
   * reported as an error carrying `why(exit)`, so that the node is lost
   * with the reason rather than with "connection closed".
   */
  stream(why: (lastLine: string, code: number | null, signal: NodeJS.Signals | null) => string): Duplex {
    const { proc } = this;
    const stdout = proc.stdout!;
    const stream = new Duplex({
      read: () => void stdout.resume(),
      write: (chunk, _enc, done) => void proc.stdin!.write(chunk, () => done()),
      final: (done) => void proc.stdin!.end(done),
      destroy: (err, done) => {
        this.close();
        done(err);
      },
    });
    stdout.on('data', (chunk: Buffer) => {
      if (!stream.push(chunk)) stdout.pause();
    });
    void this.exited.then(() => {
      const reason = why(this.lastLine(), proc.exitCode, proc.signalCode);
      stream.destroy(new Error(reason));
    });
    return stream;
  }

  /**
   * Ends the program's stdin: the remote node sees EOF and stops, and the
   * program then exits. One that has not exited after the grace is killed,
   * SIGTERM then SIGKILL, by its process group (its own: it was detached).
   */
  close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.stdin!.end();
      const term = setTimeout(() => this.kill('SIGTERM'), this.exitGraceMs);
      const kill = setTimeout(() => this.kill('SIGKILL'), this.exitGraceMs + 2000);
      void this.exited.then(() => {
        clearTimeout(term);
        clearTimeout(kill);
      });
    }
    return this.exited;
  }

  private kill(signal: NodeJS.Signals): void {
    const pid = this.proc.pid;
    if (pid === undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    log('%s: %s to the group of pid %d', this.label, signal, pid);
    try {
      process.kill(-pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/** An early exit as an FsError: the reason worded by the caller. */
export function earlyExitError(exit: unknown, word: (e: EarlyExit) => FsError): FsError {
  if (exit instanceof FsError) return exit;
  if (exit instanceof Error) return new FsError('EIO', exit.message);
  return word(exit as EarlyExit);
}
