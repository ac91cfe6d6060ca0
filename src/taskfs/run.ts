/**
 * One exec of a leaf session: the process, its spooled stdout and stderr,
 * and its wait record (a one-line spool, so waiting readers and late
 * readers are served the same way as output).
 */
import createDebug from 'debug';
import { asFsError } from '../ns/errors.js';
import { LeafProcess, type ExitInfo } from '../exec/process.js';
import type { Command, Spawner } from '../exec/spawner.js';
import { FileSpool, MemorySpool } from '../exec/spool.js';
import { join } from 'node:path';
import { quote } from '../ns/quote.js';

const log = createDebug('taskfs:run');

export interface RunSpec extends Command {
  spawner: Spawner;
  spoolDir: string;
  /** Unique among runs on this node: names the spool files. */
  tag: string;
  /** Done before the process starts (staging); a failure is the run's start failure. */
  prepare?: () => Promise<void>;
}

export type RunState = 'Execute' | 'Done' | 'Fail' | 'Lost';

export class Run {
  readonly stdout: FileSpool;
  readonly stderr: FileSpool;
  readonly wait = new MemorySpool();
  state: RunState = 'Execute';
  process?: LeafProcess;
  private stdinClosed = false;

  constructor(readonly spec: RunSpec) {
    this.stdout = new FileSpool(join(spec.spoolDir, `${spec.tag}.out`));
    this.stderr = new FileSpool(join(spec.spoolDir, `${spec.tag}.err`));
  }

  /** Start the process; on failure the run is `Fail`, its wait line says why, and the error is thrown. */
  async start(): Promise<void> {
    const { argv, cwd, makeCwd, env, sharedEnv, nice, spawner } = this.spec;
    try {
      await this.spec.prepare?.();
      this.process = await LeafProcess.start({
        argv,
        cwd,
        makeCwd,
        env,
        sharedEnv,
        nice,
        spawner,
        stdout: this.stdout,
        stderr: this.stderr,
      });
    } catch (err) {
      const e = asFsError(err);
      this.state = 'Fail';
      this.stdout.end();
      this.stderr.end();
      this.finish(`0 0 0 0 ${quote(`fail: ${e.message}`)}\n`);
      throw e;
    }
    log('started %s pid %d', argv[0], this.process.pid);
    if (this.stdinClosed) this.process.closeStdin();
    void this.process.exited.then((info) => this.onExit(info));
  }

  private onExit(info: ExitInfo): void {
    if (this.state === 'Execute') this.state = 'Done';
    this.finish(waitLine(info));
  }

  private finish(line: string): void {
    if (this.wait.ended) return;
    this.wait.append(Buffer.from(line));
    this.wait.end();
  }

  get running(): boolean {
    return this.state === 'Execute';
  }

  async writeStdin(data: Buffer): Promise<void> {
    if (!this.process) throw asFsError(new Error('process not started'));
    await this.process.writeStdin(data);
  }

  closeStdin(): void {
    this.stdinClosed = true;
    this.process?.closeStdin();
  }

  signal(sig: NodeJS.Signals | number): void {
    if (this.running) this.process?.signal(sig);
  }

  async kill(): Promise<void> {
    if (this.running) await this.process?.kill();
  }

  /** Stop everything and forget the spools. */
  async dispose(): Promise<void> {
    await this.kill();
    await Promise.allSettled([this.stdout.dispose(), this.stderr.dispose(), this.wait.dispose()]);
  }
}

export function waitLine(info: ExitInfo): string {
  const ms = (n: number) => Math.round(n);
  return `${info.pid} ${ms(info.userMs)} ${ms(info.sysMs)} ${ms(info.realMs)} ${quote(info.status)}\n`;
}
