/** Signal names and numbers, from the platform's own table (os.constants.signals). */
import { constants } from 'node:os';

const byName = constants.signals as Readonly<Record<string, number>>;
/** Linux has real-time signals up to 64, which os.constants.signals does not list. */
const MAX_SIGNAL = 64;

/** 'TERM', 'SIGTERM', 'sigterm' or '15' → 15. Undefined for anything unknown (and for 0). */
export function signalNumber(name: string): number | undefined {
  const s = name.trim();
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= MAX_SIGNAL ? n : undefined;
  }
  const up = s.toUpperCase();
  const key = up.startsWith('SIG') ? up : `SIG${up}`;
  return Object.hasOwn(byName, key) ? byName[key] : undefined;
}

/** 15 → 'SIGTERM'; undefined if the number has no name here. */
export function signalName(n: number): string | undefined {
  for (const [name, num] of Object.entries(byName)) if (num === n) return name;
  return undefined;
}
