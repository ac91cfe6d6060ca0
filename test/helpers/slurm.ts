/**
 * A private Slurm cluster for tests (README "Slurm", the test cluster):
 * munged on a socket in a temp dir with a key made here, slurmctld and two
 * slurmd (nodes n1 and n2, one CPU each, both this host at 127.0.0.1 on
 * their own free ports) reading a slurm.conf in that dir. Nothing of the
 * machine's own Slurm or munge is read or touched: every client command
 * finds this cluster through SLURM_CONF (`env`), and the daemons are
 * stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, sh, until } from './daemon.js';

export const SLURM_PROGRAMS = [
  'munged',
  'mungekey',
  'munge',
  'slurmctld',
  'slurmd',
  'salloc',
  'srun',
  'sinfo',
  'squeue',
  'scancel',
];

export interface SlurmCluster {
  dir: string;
  /** What every Slurm command (and taskfs) needs in its environment. */
  env: Record<string, string>;
  partition: string;
  nodes: string[];
  /** Job ids in squeue, with their names and states: "ID NAME STATE" lines. */
  queue(): Promise<string>;
  /** The daemons' logs, for a failing test's message. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

const NODES = ['n1', 'n2'];

export async function startSlurm(): Promise<SlurmCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'taskfs-slurm-'));
  // munged wants every directory on its socket's path searchable by all.
  await chmod(dir, 0o755);
  const munge = join(dir, 'munge');
  await mkdir(munge, { mode: 0o755 });
  for (const d of ['state', 'spool', 'log']) await mkdir(join(dir, d));
  const conf = join(dir, 'slurm.conf');
  const env = { SLURM_CONF: conf };
  const daemons: ChildProcess[] = [];
  const started = (cmd: string, args: string[]): void => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    proc.on('error', () => undefined);
    daemons.push(proc);
  };
  const cluster: SlurmCluster = {
    dir,
    env,
    partition: 'debug',
    nodes: NODES,
    queue: () => run(`squeue -h -o '%i %j %T'`, { env }),
    logs: async () => {
      const files = ['munge/munged.log', 'log/slurmctld.log', ...NODES.map((n) => `log/slurmd-${n}.log`)];
      const texts = await Promise.all(
        files.map(async (f) => `--- ${f}\n${(await readFile(join(dir, f), 'utf8').catch(() => '')).slice(-3000)}`),
      );
      return texts.join('\n');
    },
    stop: async () => {
      await sh(`squeue -h -o %i | xargs -r scancel`, { env, timeout: 15_000 });
      // slurmd and slurmctld before munged, which they need to say goodbye.
      for (const proc of daemons.reverse()) await stopProcess(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await run(`mungekey -c -k ${munge}/munge.key`);
    started('munged', [
      '-F',
      `--socket=${munge}/socket`,
      `--key-file=${munge}/munge.key`,
      `--log-file=${munge}/munged.log`,
      `--pid-file=${munge}/munged.pid`,
      `--seed-file=${munge}/munged.seed`,
    ]);
    const [ctldPort, ...nodePorts] = await freePorts(1 + NODES.length);
    await writeFile(conf, slurmConf(dir, ctldPort!, nodePorts));
    await until(() => sh(`munge -S ${munge}/socket -n >/dev/null`).then((r) => r.code === 0), 10_000, 100);
    started('slurmctld', ['-D', '-i', '-f', conf]);
    for (const n of NODES) started('slurmd', ['-D', '-f', conf, '-N', n]);
    const ready = async () => {
      const r = await sh(`sinfo -h -N -p debug -o '%N %t'`, { env });
      const idle = r.stdout.split('\n').filter((l) => / idle$/.test(l)).length;
      return r.code === 0 && idle === NODES.length;
    };
    await until(ready, 30_000, 200).catch(async () => {
      throw new Error(`the private Slurm cluster did not come up:\n${await cluster.logs()}`);
    });
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

/**
 * The cluster's slurm.conf: this host, under its short name, is the
 * controller and both nodes. EnforcePartLimits=ALL makes Slurm refuse a
 * request the partition can never hold instead of queueing it forever.
 */
function slurmConf(dir: string, ctldPort: number, nodePorts: number[]): string {
  const host = hostname().split('.')[0];
  return `ClusterName=taskfstest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctldPort}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool/%n
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd-%n.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
EnforcePartLimits=ALL
${NODES.map((n, i) => `NodeName=${n} NodeHostname=${host} NodeAddr=127.0.0.1 Port=${nodePorts[i]} CPUs=1 State=UNKNOWN`).join('\n')}
PartitionName=debug Nodes=${NODES.join(',')} Default=YES MaxTime=INFINITE State=UP
`;
}

/** Ports free now on loopback (held together so that they differ). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
