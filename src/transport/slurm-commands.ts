/**
 * Slurm's client commands as taskfs runs them (README "Slurm"): run one and
 * keep what it printed, turn its complaint into an error text, and read the
 * few formats taskfs needs (sinfo's CPU states, scontrol's node lines,
 * SLURM_TASKS_PER_NODE). The commands find the cluster the usual way: the
 * daemon's environment (SLURM_CONF) and Slurm's own configuration.
 */
import { execFile } from 'node:child_process';
import { FsError } from '../ns/errors.js';

/** A command that answers nothing in this long is taken for a cluster that does not answer. */
const COMMAND_TIMEOUT_MS = 30_000;

/** What `cmd` printed on stdout; its complaint as an EIO FsError when it fails. */
export function runSlurm(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${cmd} is not installed here (Slurm's client commands are needed)`
          : slurmComplaint(cmd, stderr) || err.message;
      reject(new FsError('EIO', `slurm: ${why}`));
    });
  });
}

/**
 * The reason in what a Slurm command wrote on stderr: its error lines
 * without the "salloc: error: " prefixes, joined by "; ". Other lines
 * (Pending, Granted) are progress, not reasons; with no error line the
 * last line is taken (getopt's "unrecognized option" has no prefix).
 */
export function slurmComplaint(cmd: string, stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /(^|: )error: /.test(l)).map((l) => l.replace(/^(\S+: )?error: /, ''));
  if (errors.length > 0) return `${cmd}: ${errors.join('; ')}`;
  const useful = lines.filter((l) => !/^Try ".*--help"/.test(l));
  const last = useful.at(-1);
  return last ? `${cmd}: ${last.replace(/^\S+: /, '')}` : '';
}

/** SLURM_TASKS_PER_NODE ("2(x3),1") as one count per node, in node list order. */
export function parseTasksPerNode(spec: string): number[] {
  const counts: number[] = [];
  for (const part of spec.trim().split(',')) {
    const m = /^(\d+)(?:\(x(\d+)\))?$/.exec(part);
    if (!m) throw new FsError('EIO', `slurm: cannot read SLURM_TASKS_PER_NODE ${JSON.stringify(spec)}`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) counts.push(Number(m[1]));
  }
  return counts;
}

/** What `scontrol -o show node` says of a node that taskfs needs: its kind. */
export interface SlurmNodeKind {
  os: string;
  machine: string;
}

/** `scontrol -o show node` lines: each node's OS (first word of OS=) and Arch. */
export function parseNodeKinds(text: string): Map<string, SlurmNodeKind> {
  const kinds = new Map<string, SlurmNodeKind>();
  for (const line of text.split('\n')) {
    const name = /(?:^|\s)NodeName=(\S+)/.exec(line)?.[1];
    if (!name) continue;
    const os = /\sOS=(\S+)/.exec(line)?.[1];
    const arch = /\sArch=(\S+)/.exec(line)?.[1];
    kinds.set(name, {
      os: os && os !== '(null)' ? os : 'unknown',
      machine: arch && arch !== '(null)' ? arch : 'unknown',
    });
  }
  return kinds;
}

/** `sinfo -h -N -o '%N %C'` lines ("n1 0/2/0/2": allocated/idle/other/total): idle CPUs per node. */
export function parseIdleCpus(text: string): Map<string, number> {
  const idle = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\d+\/(\d+)\/\d+\/\d+\s*$/.exec(line.trim());
    if (m) idle.set(m[1]!, Math.max(idle.get(m[1]!) ?? 0, Number(m[2])));
  }
  return idle;
}
