/**
 * A tiny seeded PRNG for the fuzzers (mulberry32) and the knobs they share.
 * Everything a fuzzer generates comes from one of these, so a seed printed
 * by a failing run replays the same input: TASKFS_FUZZ_SEED=... .
 */

export class Prng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** A uniform u32. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One of `choices`, by weight: [[weight, value], ...]. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let x = this.next() * total;
    for (const [w, v] of choices) {
      if ((x -= w) < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }

  /** n random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  /** A u64 as a bigint, biased to edge values. */
  u64(): bigint {
    return this.weighted<() => bigint>([
      [4, () => 0n],
      [3, () => BigInt(this.int(0, 4096))],
      [1, () => (1n << 63n) - 1n],
      [1, () => 1n << 63n],
      [1, () => (1n << 64n) - 1n],
      [1, () => BigInt(Number.MAX_SAFE_INTEGER) + BigInt(this.int(0, 2))],
      [1, () => (BigInt(this.u32()) << 32n) | BigInt(this.u32())],
    ])();
  }

  /** A seed for a sub-generator (one per lane), drawn from this one. */
  fork(): Prng {
    return new Prng(this.u32());
  }
}

/** The seed: TASKFS_FUZZ_SEED (a number, or any text, hashed), else a fixed default. */
export function fuzzSeed(fallback = 20240611): number {
  const raw = process.env.TASKFS_FUZZ_SEED;
  if (raw === undefined || raw.trim() === '') return fallback >>> 0;
  if (/^\d+$/.test(raw.trim())) return Number(BigInt(raw.trim()) & 0xffffffffn);
  let h = 2166136261;
  for (const c of Buffer.from(raw)) h = Math.imul(h ^ c, 16777619) >>> 0;
  return h;
}

/** A positive number from the environment, else `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/**
 * Error text that can only come from a bug (a JavaScript exception that
 * escaped as the reason of an Rerror or of a failed write), never from an
 * FsError the tree meant to raise.
 */
export const INTERNAL_ERROR =
  /TypeError|ReferenceError|RangeError|SyntaxError|Cannot read prop|Cannot set prop|is not a function|is not iterable|is not defined|Maximum call stack|Invalid (string|array) length/;
