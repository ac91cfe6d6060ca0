/**
 * The node's fork server (native/taskfs-spawnd.c), seen from Node.
 *
 * Forking the daemon costs about 2 ms per leaf, in its only thread; the
 * fork server costs a fraction of that. Each leaf it starts dials back
 * three times to a unix socket we listen on (in the node's private spool
 * directory), says "ID K" (K = 0 stdin, 1 stdout, 2 stderr), and those
 * connections are its stdio: kernel sockets straight between the leaf and
 * us, like the socketpairs child_process would give.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';

const log = createDebug('taskfs:exec');

export interface SpawnRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  nice?: number;
}

export interface ExitReport {
  code: number;
  signal: number;
  userUs: number;
  sysUs: number;
}

/** What happens to one leaf, in this order: started or failed, exited, gone. */
export interface LeafEvents {
  started(pid: number, stdio: [Socket, Socket, Socket]): void;
  failed(errno: number, stage: string): void;
  exited(report: ExitReport): void;
  /** No process of the leaf's group is left (or the fork server died). */
  gone(): void;
}

interface Pending {
  events: LeafEvents;
  stdio: (Socket | undefined)[];
  pid?: number;
  failed: boolean;
  startedSent: boolean;
  exit?: ExitReport;
  exitSent?: boolean;
  goneSeen?: boolean;
}

export class Spawner {
  private readonly leaves = new Map<string, Pending>();
  private nextId = 1;
  private out = '';
  private dead?: string;

  private constructor(private readonly proc: ChildProcess, private readonly server: Server, private readonly socketPath: string) {
    server.on('connection', (s) => this.onConnection(s));
    proc.stdout!.setEncoding('latin1');
    proc.stdout!.on('data', (text: string) => this.onReports(text));
    proc.stdin!.on('error', (err) => log('spawnd stdin: %s', err.message));
    proc.on('exit', (code, signal) => this.onDeath(`fork server ended (${signal ?? `code ${code}`})`));
  }

  static async start(spawndPath: string, socketPath: string): Promise<Spawner> {
    await rm(socketPath, { force: true });
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: socketPath, backlog: 4096 }, () => resolve());
    });
    const proc = spawn(spawndPath, [socketPath], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) => reject(new FsError('EIO', `cannot start ${spawndPath}: ${err.message}`)));
    }).catch(async (err) => {
      server.close();
      throw err;
    });
    return new Spawner(proc, server, socketPath);
  }

  /** Ask for a leaf; `events` hear how it goes. Never throws for the leaf's own failures. */
  spawn(req: SpawnRequest, events: LeafEvents): void {
    if (this.dead) {
      events.failed(0, `exec: ${this.dead}`);
      events.gone();
      return;
    }
    const id = String(this.nextId++);
    const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const fields = [id, req.nice === undefined ? '' : String(Math.trunc(req.nice)), req.cwd, String(req.argv.length), ...req.argv, String(env.length), ...env];
    if (fields.some((f) => f.includes('\0'))) throw new FsError('EINVAL', 'exec: a NUL byte in the command or environment');
    const body = Buffer.from(fields.join('\0') + '\0');
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length);
    this.leaves.set(id, { events, stdio: [], failed: false, startedSent: false });
    this.proc.stdin!.write(Buffer.concat([head, body]));
  }

  async close(): Promise<void> {
    this.proc.stdin!.end(); // EOF: the fork server kills every live group and exits
    await new Promise<void>((resolve) => (this.proc.exitCode !== null || this.proc.signalCode !== null ? resolve() : this.proc.once('exit', () => resolve())));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  private onConnection(s: Socket): void {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 64) s.destroy();
        return;
      }
      s.off('data', onData);
      s.pause();
      const rest = head.subarray(nl + 1);
      if (rest.length > 0) s.unshift(rest); // a fast leaf's first output came with the header
      const [id, k] = head.subarray(0, nl).toString('latin1').split(' ');
      this.attach(id ?? '', Number(k), s);
    };
    s.on('data', onData);
    s.on('error', (err) => log('leaf socket: %s', err.message));
  }

  private attach(id: string, k: number, s: Socket): void {
    const leaf = this.leaves.get(id);
    if (!leaf || leaf.failed || !(k >= 0 && k <= 2) || leaf.stdio[k]) {
      s.destroy();
      return;
    }
    leaf.stdio[k] = s;
    this.deliver(id, leaf);
  }

  /**
   * Tell the leaf's events in order: started (once its pid and all three
   * streams are here), exited, gone. The reports and the connections come
   * by different ways and may arrive in any order.
   */
  private deliver(id: string, leaf: Pending): void {
    if (!leaf.startedSent && !leaf.failed && leaf.pid !== undefined && leaf.stdio.filter(Boolean).length === 3) {
      leaf.startedSent = true;
      leaf.events.started(leaf.pid, leaf.stdio as [Socket, Socket, Socket]);
    }
    if (leaf.startedSent && leaf.exit && !leaf.exitSent) {
      leaf.exitSent = true;
      leaf.events.exited(leaf.exit);
    }
    if (leaf.goneSeen && (leaf.failed || leaf.exitSent)) {
      this.leaves.delete(id);
      leaf.events.gone();
    }
  }

  private onReports(text: string): void {
    this.out += text;
    let nl: number;
    while ((nl = this.out.indexOf('\n')) >= 0) {
      const f = this.out.slice(0, nl).split(' ');
      this.out = this.out.slice(nl + 1);
      const leaf = this.leaves.get(f[1] ?? '');
      if (!leaf) continue;
      switch (f[0]) {
        case 'ok':
          leaf.pid = Number(f[2]);
          break;
        case 'fail':
          leaf.failed = true;
          for (const s of leaf.stdio) s?.destroy();
          leaf.events.failed(Number(f[2]), f[3] ?? 'exec');
          break;
        case 'exit':
          leaf.exit = { code: Number(f[3]), signal: Number(f[4]), userUs: Number(f[5]), sysUs: Number(f[6]) };
          break;
        case 'gone':
          leaf.goneSeen = true;
          break;
      }
      this.deliver(f[1]!, leaf);
    }
  }

  private onDeath(why: string): void {
    if (this.dead) return;
    this.dead = why;
    log('%s', why);
    for (const [id, leaf] of this.leaves) {
      this.leaves.delete(id);
      // Without the fork server nobody watches these groups: end them now.
      if (leaf.pid !== undefined) {
        try {
          process.kill(-leaf.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (!leaf.startedSent && !leaf.failed) leaf.events.failed(0, `exec: ${why}`);
      else if (!leaf.exitSent) leaf.events.exited({ code: -1, signal: 9, userUs: 0, sysUs: 0 });
      leaf.events.gone();
    }
  }
}
