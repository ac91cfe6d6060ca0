import { availableParallelism, homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Limits, NodeOptions } from '../taskfs/node.js';

export class UsageError extends Error {}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} wants a whole number >= 1, not ${JSON.stringify(value)}`);
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

/** --slots: a whole number, 0 for a node that runs nothing itself (it only hands work to children). */
function slotCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--slots wants a whole number >= 0, not ${JSON.stringify(value)}`);
  return Number(value);
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
    slots: slotCount(values.slots) ?? availableParallelism(),
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
