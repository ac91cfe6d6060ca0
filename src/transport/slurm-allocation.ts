/**
 * One Slurm allocation held for one `res` (README "Slurm"): salloc asks for
 * N tasks and stays running for as long as the allocation is held, so that
 * if this daemon dies, salloc's stdin closes and Slurm takes the allocation
 * back by itself; inside it, srun starts one `taskfs serve --stdio` per
 * allocated host, whose stdio is the 9P channel to that host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import createDebug from 'debug';
import { FsError } from '../ns/errors.js';
import { ChildNode } from '../nodes/child-node.js';
import { parseTasksPerNode, runSlurm, slurmComplaint } from './slurm-commands.js';
import { earlyExitError, StdioChannel, type EarlyExit } from './stdio-channel.js';

const log = createDebug('taskfs:slurm');

/** What the slurm child passes on: partition, options, where taskfs is on the hosts. */
export interface SlurmSettings {
  partition: string;
  /** --slurm-option words, given to salloc and srun as they are. */
  options: string[];
  /** --slurm-taskfs: the taskfs command on the allocated hosts. */
  taskfs: string;
  /** The version the hosts' taskfs must be: this one's. */
  version: string;
}

/** Silence from a host's serve for this long means it is gone: srun and a node start take a while. */
const HOST_TIMEOUT_MS = 15_000;

/** How long salloc, scancel'ed, may take to go before it is killed. */
const SALLOC_EXIT_MS = 10_000;

/**
 * Run by salloc inside the allocation: say the job, its tasks per node and
 * its hosts, then hold the allocation until stdin closes.
 */
const HOLD_SCRIPT =
  'echo "taskfs-allocation $SLURM_JOB_ID $SLURM_TASKS_PER_NODE"; ' +
  'scontrol show hostnames "$SLURM_JOB_NODELIST" || exit 1; echo .; exec cat >/dev/null';

export interface AllocatedHost {
  /** Slurm's name for the node (what srun -w takes). */
  name: string;
  tasks: number;
}

export class SlurmAllocation {
  private ending?: Promise<void>;
  /** The channel to each host's serve, once started. */
  private readonly serves = new Set<StdioChannel>();

  private constructor(
    readonly jobId: string,
    readonly hosts: AllocatedHost[],
    private readonly salloc: ChildProcess,
    private readonly sallocExit: Promise<void>,
    private readonly settings: SlurmSettings,
  ) {}

  /**
   * Ask Slurm for `tasks` tasks; resolves when they are granted. Slurm's
   * refusal (a bad partition or option, more CPUs than there are) rejects
   * with Slurm's words. A request Slurm queues waits, as salloc does,
   * until `signal` withdraws it.
   */
  static request(
    settings: SlurmSettings,
    tasks: number,
    jobName: string,
    signal: AbortSignal,
  ): Promise<SlurmAllocation> {
    const args = ['-p', settings.partition, '-n', String(tasks), '-J', jobName, ...settings.options];
    log('salloc %o', args);
    // Detached, as the serves are: a Ctrl-C at the daemon's terminal is the
    // daemon's to act on (it releases in order), not salloc's or srun's.
    const salloc = spawn('salloc', [...args, 'sh', '-c', HOLD_SCRIPT], { stdio: 'pipe', detached: true });
    const sallocExit = new Promise<void>((r) => salloc.on('close', () => r()));
    let stdout = '';
    let stderr = '';
    salloc.stdout.setEncoding('utf8');
    salloc.stderr.setEncoding('utf8');
    salloc.stderr.on('data', (c: string) => (stderr += c));
    salloc.stdin.on('error', () => undefined); // salloc gone: its exit says why
    // The node stopping while Slurm queues the request: salloc, signalled, withdraws it.
    const withdraw = () => salloc.kill('SIGTERM');
    signal.addEventListener('abort', withdraw, { once: true });
    void sallocExit.then(() => signal.removeEventListener('abort', withdraw));
    return new Promise((resolve, reject) => {
      salloc.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          new FsError(
            'EIO',
            err.code === 'ENOENT' ? 'slurm: salloc is not installed here' : `slurm: salloc: ${err.message}`,
          ),
        ),
      );
      salloc.stdout.on('data', (c: string) => {
        stdout += c;
        const m = /^taskfs-allocation (\S+) (\S+)\n([\s\S]*?)^\.\n/m.exec(stdout);
        if (!m) return;
        salloc.stdout.removeAllListeners('data');
        salloc.stdout.resume();
        const names = m[3]!.split('\n').filter(Boolean);
        let counts: number[];
        try {
          counts = parseTasksPerNode(m[2]!);
          if (counts.length !== names.length) throw new FsError('EIO', `slurm: ${names.length} hosts, tasks ${m[2]}`);
        } catch (err) {
          salloc.kill();
          reject(err);
          return;
        }
        const hosts = names.map((name, i) => ({ name, tasks: counts[i]! }));
        log('job %s granted: %o', m[1], hosts);
        resolve(new SlurmAllocation(m[1]!, hosts, salloc, sallocExit, settings));
      });
      void sallocExit.then(() => {
        const why = slurmComplaint('salloc', stderr) || `salloc: exited ${salloc.exitCode ?? salloc.signalCode}`;
        reject(new FsError('EIO', `slurm: ${why}`));
      });
    });
  }

  /**
   * A child node on `host`: `taskfs serve --stdio` started inside the
   * allocation by srun (a step that overlaps the others, given the host's
   * CPUs), spoken to over srun's stdin and stdout once its ready line says
   * it is this taskfs's version.
   */
  async connectHost(host: AllocatedHost, name: string): Promise<ChildNode> {
    const { taskfs, options, version } = this.settings;
    const argv = [
      ...['srun', '--jobid', this.jobId, '-w', host.name, '-N1', '-n1', `--cpus-per-task=${host.tasks}`],
      ...['--overlap', '--unbuffered', '--quiet', ...options],
      ...[taskfs, 'serve', '--stdio', '--slots', String(host.tasks), '--name', host.name],
    ];
    log('%o', argv);
    let started: Awaited<ReturnType<typeof StdioChannel.start>>;
    try {
      started = await StdioChannel.start(argv, { label: name, readyTimeoutMs: HOST_TIMEOUT_MS });
    } catch (err) {
      // srun's own words say why the serve never came up.
      throw earlyExitError(err, (e) => new FsError('EIO', `slurm: ${host.name}: ${srunReason(e)}`));
    }
    const { channel } = started;
    this.serves.add(channel);
    if (started.version !== version) {
      await channel.close();
      throw new FsError(
        'EIO',
        `slurm: ${host.name}: taskfs there is version ${started.version}, here ${version}: install the same version on both`,
      );
    }
    const stream = channel.stream((line, code, signal) =>
      [`srun ${signal ? `killed by ${signal}` : `exited ${code}`}`, line].filter(Boolean).join(': '),
    );
    const addr = `slurm!${this.settings.partition}!${this.jobId}!${host.name}`;
    return ChildNode.overStream(name, addr, stream, { timeoutMs: HOST_TIMEOUT_MS });
  }

  /**
   * End the allocation: scancel ends every step in it (the serves, and
   * every leaf under them), and salloc, its stdin closed, goes too.
   */
  end(): Promise<void> {
    return (this.ending ??= (async () => {
      log('job %s: ending', this.jobId);
      const serves = [...this.serves].map((c) => c.close());
      this.salloc.stdin?.end();
      await runSlurm('scancel', [this.jobId]).catch((err: Error) => log('scancel %s: %s', this.jobId, err.message));
      const t = setTimeout(() => this.salloc.kill('SIGKILL'), SALLOC_EXIT_MS);
      await this.sallocExit;
      clearTimeout(t);
      await Promise.all(serves);
    })());
  }
}

/** Why srun ended before its serve was ready. */
function srunReason(e: EarlyExit): string {
  if (e.spawnError) return "srun is not installed here (Slurm's client commands are needed)";
  if (e.timedOut) return `no taskfs node within ${HOST_TIMEOUT_MS / 1000} s`;
  return slurmComplaint('srun', e.stderr) || `srun exited ${e.code ?? e.signal}`;
}
