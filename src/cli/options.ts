import { availableParallelism, homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeOptions } from '../taskfs/node.js';

export class UsageError extends Error {}

export function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

export function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} wants a whole number >= 1, not ${JSON.stringify(value)}`);
  return Number(value);
}

export function defaultWorkdir(name: string): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'taskfs', name);
}

/** build/taskfs-spawnd, beside dist/ in the package. */
export function spawndPath(): string {
  return fileURLToPath(new URL('../../build/taskfs-spawnd', import.meta.url));
}

export function nodeOptions(values: { slots?: string; name?: string; workdir?: string; 'strict-slots'?: boolean }): NodeOptions {
  const name = values.name ?? hostname();
  return {
    name,
    slots: positiveInt(values.slots, '--slots') ?? availableParallelism(),
    strictSlots: values['strict-slots'] ?? false,
    workdir: resolve(expandHome(values.workdir ?? defaultWorkdir(name))),
    spawndPath: spawndPath(),
  };
}
