/** Helpers for the jobs suites: make a job through its clone, read a wait log. */
import { run } from './daemon.js';

/** A new job in `mnt`, with `ctl` (printf text) written on its clone handle: its number. */
export async function newJob(mnt: string, ctl = ''): Promise<string> {
  const script = ctl ? `exec 3<>jobs/clone; read -r n <&3 || true; printf "${ctl}" >&3; echo $n` : 'cat jobs/clone';
  return (await run(script, { cwd: mnt })).trim();
}

export interface WaitLine {
  id: number;
  node: string;
  start: number;
  real: number;
  status: string;
}

export function waitLines(text: string): WaitLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(\d+) (\S+) (\d+) (\d+) (.*)$/.exec(l);
      if (!m) throw new Error(`not a wait line: ${l}`);
      return { id: Number(m[1]), node: m[2]!, start: Number(m[3]), real: Number(m[4]), status: m[5]! };
    });
}
