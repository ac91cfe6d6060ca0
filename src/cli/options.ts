import { availableParallelism, homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Limits, NodeOptions } from '../taskfs/node.js';
import type { SshOptions } from '../transport/ssh.js';
import { version } from './version.js';

export class UsageError extends Error {}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

export function positiveInt(value: string | undefined, flag: string, least = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < least)
    throw new UsageError(`${flag} wants a whole number >= ${least}, not ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * The default workdir is per node name AND per place it serves (its mount
 * point, its listen address, or stdio), so that two nodes on one machine
 * with default options keep their own spools and jobs journal (README
 * "Jobs: what survives a crash"); runtime.ts moves on to NAME@WHERE.2, .3
 * ... while a live node holds the journal.
 */
export function defaultWorkdir(name: string, where: string): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'taskfs', `${name}@${where.replace(/[^\w.-]+/g, '_').replace(/^_+/, '')}`);
}

/** build/taskfs-spawnd, beside dist/ in the package. */
export function spawndPath(): string {
  return fileURLToPath(new URL('../../build/taskfs-spawnd', import.meta.url));
}

export interface NodeFlags {
  slots?: string;
  name?: string;
  workdir?: string;
  'strict-slots'?: boolean;
  'max-sessions'?: string;
  'max-leaves'?: string;
  'spool-limit'?: string;
}

/** `where` names the place the node serves, for its default workdir. */
export function nodeOptions(values: NodeFlags, where: string): NodeOptions {
  const name = values.name ?? hostname();
  const limits: Partial<Limits> = {};
  const sessions = positiveInt(values['max-sessions'], '--max-sessions');
  const leaves = positiveInt(values['max-leaves'], '--max-leaves');
  const spool = byteCount(values['spool-limit'], '--spool-limit');
  if (sessions !== undefined) limits.sessions = sessions;
  if (leaves !== undefined) limits.leaves = leaves;
  if (spool !== undefined) limits.spool = spool;
  return {
    name,
    // --slots 0: a node that only hands leaves to its children (--hosts, --remote).
    slots: positiveInt(values.slots, '--slots', 0) ?? availableParallelism(),
    strictSlots: values['strict-slots'] ?? false,
    workdir: resolve(expandHome(values.workdir ?? defaultWorkdir(name, where))),
    spawndPath: spawndPath(),
    limits,
  };
}

/** 123, 64K, 512M, 16G (powers of 1024); 0 means no limit. */
export function byteCount(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(value);
  if (!m) throw new UsageError(`${flag} wants a byte count like 512M or 16G, not ${JSON.stringify(value)}`);
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
}

/** Time for ssh to connect and a remote node to start: many start at once on a few cores. */
const SSH_READY_MS = 60_000;

/** --ssh-taskfs, --ssh-option and TASKFS_SSH (the ssh command, words split on blanks). */
export function sshOptions(
  values: { 'ssh-taskfs'?: string; 'ssh-option'?: string[] },
  env: NodeJS.ProcessEnv,
): SshOptions {
  const command = (env.TASKFS_SSH ?? '').split(/\s+/).filter(Boolean);
  return {
    command: command.length > 0 ? command : ['ssh'],
    options: values['ssh-option'] ?? [],
    taskfs: values['ssh-taskfs'] ?? 'taskfs',
    version,
    readyTimeoutMs: SSH_READY_MS,
  };
}
