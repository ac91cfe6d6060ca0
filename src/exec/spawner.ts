/**
 * The node's process server (native/spawnd-*.c, protocol in spawnd.h), seen from Node.
 *
 * It forks the leaves (forking the daemon costs about 2 ms per leaf, in its
 * only thread), splices their stdout and stderr into spool files (output
 * never passes through this process: we learn how long the files are and
 * read them to answer readers), feeds their stdin from our frames, and
 * reaps them. One pipe each way carries everything: requests as frames,
 * reports as lines (the protocol is in the C file's header).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import type { EnvBlock } from './env-block.js';
import { StdinFrames } from './stdin-frames.js';

const log = createDebug('taskfs:exec');

/** What to run and how: the same at every layer, from the session's exec down to the process server. */
export interface Command {
  argv: string[];
  /** '' for the server's own directory. */
  cwd: string;
  /** Made (mode 0700) if missing, by the process server in the child: no daemon syscall per leaf. */
  makeCwd?: boolean;
  env: Record<string, string>;
  /** More of the environment, encoded once for many leaves; none of its keys is in `env`. */
  sharedEnv?: EnvBlock;
  nice?: number;
}

export interface SpawnRequest extends Command {
  /** Spool files for stdout and stderr: created (truncated) by the process server. */
  stdoutPath: string;
  stderrPath: string;
}

export interface ExitReport {
  code: number;
  signal: number;
  userUs: number;
  sysUs: number;
}

/** What happens to one leaf: started or failed, output as it grows, exited, gone. */
export interface LeafEvents {
  started(pid: number): void;
  failed(errno: number, stage: string): void;
  /** Stream k (1 stdout, 2 stderr) holds `length` bytes in its file; `ended`: no more will come. */
  output(k: 1 | 2, length: number, ended: boolean): void;
  exited(report: ExitReport): void;
  /** No process of the leaf's group is left (or the process server died). */
  gone(): void;
}

/** A started (or starting) leaf: its stdin, and the end of its output. */
export interface LeafChannel {
  /** Resolves once the bytes are in the leaf's stdin pipe; rejects EIO once stdin is closed. */
  writeStdin(data: Buffer): Promise<void>;
  /** EOF on the leaf's stdin, after what was written. */
  closeStdin(): void;
  /** Stop spooling: the output is held open by a process that left the group. */
  dropOutput(): void;
}

interface StdinWaiter {
  end: number;
  resolve(): void;
  reject(err: Error): void;
}

interface Leaf {
  events: LeafEvents;
  pid?: number;
  failed: boolean;
  exited: boolean;
  gone: boolean;
  ended: [boolean, boolean];
  /** stdin: bytes sent to the server, bytes it says the pipe took, writers waiting. */
  sent: number;
  took: number;
  shut: boolean;
  waiters: StdinWaiter[];
}

const stdinClosed = () => new FsError('EIO', 'stdin closed');

/**
 * Bytes of a leaf's stdin that may be on their way (sent to the server, not
 * yet in the leaf's pipe) before a writer waits: a socket's send buffer, in
 * effect. Writes overlap with the server's delivery of earlier ones; what the
 * server holds stays bounded.
 */
export const STDIN_WINDOW = 256 * 1024;

/**
 * Stdin frames wait to be gathered (stdin-frames.ts): until the next tick,
 * or, when the last frames went less than LINGER_MS ago (a writer streaming
 * in small writes: `head -c` writes 4 KiB at a time), up to LINGER_MS or
 * until a leaf has STDIN_BATCH bytes waiting. A lone write goes at once.
 */
const LINGER_MS = 4;
const STDIN_BATCH = 256 * 1024;
const STDIN_FRAME_MAX = 8 << 20;

export class Spawner {
  private readonly leaves = new Map<string, Leaf>();
  private nextId = 1;
  private out = '';
  private dead?: string;
  private readonly stdin = new StdinFrames();
  private lastFlush = 0;
  private flushTick = false;
  private flushTimer?: NodeJS.Timeout;
  private resolveDied!: (why: string) => void;
  /** Resolves, with why, when the server has died (killed, crashed) or been closed. */
  readonly died = new Promise<string>((r) => (this.resolveDied = r));

  private constructor(private readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('latin1');
    proc.stdout!.on('data', (text: string) => this.onReports(text));
    proc.stdin!.on('error', (err) => log('spawnd stdin: %s', err.message));
    proc.on('exit', (code, signal) => this.onDeath(`process server ended (${signal ?? `code ${code}`})`));
  }

  static async start(spawndPath: string): Promise<Spawner> {
    const proc = spawn(spawndPath, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) => reject(new FsError('EIO', `cannot start ${spawndPath}: ${err.message}`)));
    });
    return new Spawner(proc);
  }

  /** Bytes a leaf may spool (stdout + stderr) before it is left blocked in write(2); 0: no limit. */
  setSpoolLimit(bytes: number): void {
    this.send(['limit', String(Math.max(0, Math.trunc(bytes)))]);
  }

  /** Ask for a leaf; `events` hear how it goes. Never throws for the leaf's own failures. */
  spawn(req: SpawnRequest, events: LeafEvents): LeafChannel {
    const id = String(this.nextId++);
    const leaf: Leaf = {
      events,
      failed: false,
      exited: false,
      gone: false,
      ended: [false, false],
      sent: 0,
      took: 0,
      shut: false,
      waiters: [],
    };
    const channel: LeafChannel = {
      writeStdin: (data) => this.writeStdin(id, leaf, data),
      closeStdin: () => this.send(['eof', id]),
      dropOutput: () => this.send(['drop', id]),
    };
    if (this.dead) {
      leaf.shut = true;
      events.failed(0, `exec: ${this.dead}`);
      events.gone();
      return channel;
    }
    const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const fields = [
      'spawn',
      id,
      req.nice === undefined ? '' : String(Math.trunc(req.nice)),
      req.makeCwd ? `+${req.cwd}` : req.cwd,
      req.stdoutPath,
      req.stderrPath,
      String(req.argv.length),
      ...req.argv,
      String(env.length + (req.sharedEnv?.count ?? 0)),
      ...env,
    ];
    if (req.sharedEnv?.hasNul || fields.some((f) => f.includes('\0')))
      throw new FsError('EINVAL', 'exec: a NUL byte in the command or environment');
    this.leaves.set(id, leaf);
    this.send(fields, req.sharedEnv?.bytes); // the shared strings end the frame: the last of ENV...
    return channel;
  }

  async close(): Promise<void> {
    this.flushStdin();
    this.proc.stdin!.end(); // EOF: the server kills every live group and exits
    await new Promise<void>((resolve) =>
      this.proc.exitCode !== null || this.proc.signalCode !== null
        ? resolve()
        : this.proc.once('exit', () => resolve()),
    );
  }

  private writeStdin(id: string, leaf: Leaf, data: Buffer): Promise<void> {
    if (leaf.shut || leaf.exited) return Promise.reject(stdinClosed());
    if (data.length === 0) return Promise.resolve();
    leaf.sent += data.length;
    this.queueStdin(id, data);
    // Done once at most a window's worth is still on its way.
    const end = leaf.sent - STDIN_WINDOW;
    if (end <= leaf.took) return Promise.resolve();
    return new Promise((resolve, reject) => leaf.waiters.push({ end, resolve, reject }));
  }

  private queueStdin(id: string, data: Buffer): void {
    this.stdin.add(id, data);
    // A frame stays well under the server's 64 MiB limit, whoever writes without waiting.
    if (this.stdin.most >= STDIN_FRAME_MAX) return this.flushStdin();
    if (this.flushTick) return;
    if (this.stdin.most < STDIN_BATCH && performance.now() - this.lastFlush < LINGER_MS) {
      this.flushTimer ??= setTimeout(() => this.flushStdin(), LINGER_MS);
      return;
    }
    this.flushTick = true;
    process.nextTick(() => this.flushStdin());
  }

  private flushStdin(): void {
    this.flushTick = false;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.stdin.empty) return;
    this.lastFlush = performance.now();
    for (const f of this.stdin.take()) this.write(['stdin', f.ids.join(',')], f.parts);
  }

  private send(fields: string[], raw?: Buffer): void {
    this.flushStdin(); // what was written before (an eof after its bytes) goes first
    this.write(fields, raw ? [raw] : []);
  }

  /** One frame: u32 length, NUL-terminated fields, then raw bytes. */
  private write(fields: string[], raw: Buffer[] = []): void {
    if (this.dead) return;
    const text = Buffer.from(fields.join('\0') + '\0');
    const head = Buffer.alloc(4);
    head.writeUInt32LE(raw.reduce((n, b) => n + b.length, text.length));
    const pipe = this.proc.stdin!;
    if (raw.length === 0) return void pipe.write(Buffer.concat([head, text]));
    // Raw bytes (stdin data, a shared environment) go as they are, gathered into one writev: no copy per leaf.
    pipe.cork();
    pipe.write(Buffer.concat([head, text]));
    for (const b of raw) pipe.write(b);
    pipe.uncork();
  }

  private onReports(text: string): void {
    this.out += text;
    let start = 0;
    let nl: number;
    while ((nl = this.out.indexOf('\n', start)) >= 0) {
      this.onReport(this.out.slice(start, nl).split(' '));
      start = nl + 1;
    }
    this.out = this.out.slice(start);
  }

  private onReport(f: string[]): void {
    const id = f[1] ?? '';
    const leaf = this.leaves.get(id);
    if (!leaf) return;
    const n = (i: number) => Number(f[i]);
    switch (f[0]) {
      case 'ok':
        leaf.pid = n(2);
        leaf.events.started(leaf.pid);
        break;
      case 'fail':
        leaf.failed = true;
        leaf.ended = [true, true]; // the server drops a failed leaf's streams without a word
        this.shutStdin(leaf);
        leaf.events.failed(n(2), f[3] ?? 'exec');
        break;
      case 'out':
      case 'end': {
        const k = n(2) === 2 ? 2 : 1;
        if (leaf.ended[k - 1]) break;
        leaf.ended[k - 1] = f[0] === 'end';
        leaf.events.output(k, n(3), f[0] === 'end');
        this.maybeForget(id, leaf);
        break;
      }
      case 'stall':
        log('leaf %s: spool %s: write failed (errno %s), retrying', id, f[2], f[3]);
        break;
      case 'took':
        leaf.took = n(2);
        while (leaf.waiters.length > 0 && leaf.waiters[0]!.end <= leaf.took) leaf.waiters.shift()!.resolve();
        break;
      case 'shut':
        this.shutStdin(leaf);
        break;
      case 'exit':
        leaf.exited = true;
        this.shutStdin(leaf);
        leaf.events.exited({ code: n(3), signal: n(4), userUs: n(5), sysUs: n(6) });
        break;
      case 'gone':
        leaf.gone = true;
        leaf.events.gone();
        this.maybeForget(id, leaf);
        break;
    }
  }

  /** The group may be gone before its output ends (a pipe's EOF can come later): forget only after both. */
  private maybeForget(id: string, leaf: Leaf): void {
    if (leaf.gone && leaf.ended[0] && leaf.ended[1]) this.leaves.delete(id);
  }

  private shutStdin(leaf: Leaf): void {
    leaf.shut = true;
    for (const w of leaf.waiters.splice(0)) w.reject(stdinClosed());
  }

  private onDeath(why: string): void {
    if (this.dead) return;
    this.dead = why;
    log('%s', why);
    this.resolveDied(why);
    for (const [id, leaf] of this.leaves) {
      this.leaves.delete(id);
      this.shutStdin(leaf);
      // Without the server nobody watches these groups: end them now.
      if (leaf.pid !== undefined) {
        try {
          process.kill(-leaf.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (leaf.pid === undefined) {
        if (!leaf.failed) leaf.events.failed(0, `exec: ${why}`);
      } else {
        for (const k of [1, 2] as const) if (!leaf.ended[k - 1]) leaf.events.output(k, -1, true);
        if (!leaf.exited) leaf.events.exited({ code: -1, signal: 9, userUs: 0, sysUs: 0 });
      }
      if (!leaf.gone) leaf.events.gone();
    }
  }
}
