/**
 * How `res N` splits among child nodes (README "Many machines"): in proportion to
 * the capacity each reports for the wanted os/machine, by largest
 * remainder, so equal capacities get shares that differ by at most one.
 */
import { FsError } from '../ns/errors.js';

export interface CapacityLine {
  count: number;
  os: string;
  machine: string;
}

/** Parse a node `status`: "COUNT OS MACHINE" lines. */
export function parseCapacity(text: string): CapacityLine[] {
  const lines: CapacityLine[] = [];
  for (const line of text.split('\n')) {
    const [count, os, machine] = line.trim().split(/\s+/);
    if (count && os && machine && /^\d+$/.test(count)) lines.push({ count: Number(count), os, machine });
  }
  return lines;
}

export function matches(want: string, have: string): boolean {
  return want === '*' || want.toLowerCase() === have.toLowerCase();
}

/** Capacity of `lines` usable for os/machine. */
export function usable(lines: readonly CapacityLine[], os: string, machine: string): number {
  return lines.filter((l) => matches(os, l.os) && matches(machine, l.machine)).reduce((n, l) => n + l.count, 0);
}

/** Sum capacities by kind: what a node with children reports as its status. */
export function sumCapacity(all: ReadonlyArray<readonly CapacityLine[]>): CapacityLine[] {
  const byKind = new Map<string, CapacityLine>();
  for (const lines of all) {
    for (const l of lines) {
      const key = `${l.os} ${l.machine}`;
      const have = byKind.get(key);
      if (have) have.count += l.count;
      else byKind.set(key, { ...l });
    }
  }
  return [...byKind.values()];
}

export function formatCapacity(lines: readonly CapacityLine[]): string {
  return lines.map((l) => `${l.count} ${l.os} ${l.machine}\n`).join('');
}

/** Shares of `total` proportional to `capacities`; zero-capacity entries get 0. */
export function shares(total: number, capacities: readonly number[]): number[] {
  const sum = capacities.reduce((a, b) => a + b, 0);
  if (total === 0) return capacities.map(() => 0);
  if (sum <= 0) throw new FsError('ENOSPC', 'no capacity for this request');
  const exact = capacities.map((c) => (total * c) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  // Largest remainders first; ties go to the larger capacity, then the earlier child.
  const order = exact
    .map((e, i) => ({ i, frac: e - Math.floor(e), cap: capacities[i]! }))
    .filter((x) => x.cap > 0)
    .sort((a, b) => b.frac - a.frac || b.cap - a.cap || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]!.i]!++;
  return out;
}
