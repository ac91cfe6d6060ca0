/**
 * The files' text turned into the monitor's JSON (README "Web monitor"):
 * each parser takes what `cat` shows and keeps the files' own words (Up,
 * Execute, Queued ...). A line that does not parse is left out, never
 * guessed at: the monitor shows what the files say, or nothing.
 */
import { tokenize } from '../ns/quote.js';

export interface Capacity {
  count: number;
  os: string;
  machine: string;
}

/** A leaf of a session: one `status` line, `cmd/N OPENS STATE DIR ARG0`. */
export interface Leaf {
  name: string;
  opens: number;
  state: string;
  dir: string;
  cmd: string;
}

/** One line of `jobs/status`: `N STATE PRIORITY QUEUED RUNNING DONE FAILED 'NAME'`. */
export interface JobLine {
  id: number;
  state: string;
  priority: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  name: string;
}

/** One line of `jobs/nodes`: `NAME STATE SLOTS BUSY 'ATTRS'`. */
export interface WorkerLine {
  name: string;
  state: string;
  slots: number;
  busy: number;
  attrs: Record<string, string>;
}

/** One line of `jobs/N/status`: `ID STATE NODE TRIES 'STATUS'`. */
export interface TaskLine {
  id: number;
  state: string;
  node: string;
  tries: number;
  status: string;
}

/** Node `status`: `COUNT OS MACHINE` per kind. */
export function parseCapacity(text: string): Capacity[] {
  return rows(text, 3, ([count, os, machine]) => int(count) && { count: Number(count), os: os!, machine: machine! });
}

/**
 * A ctl file read back: one `verb value...` line each, the value its words
 * unquoted and joined by blanks (`name 'render frames'` is render frames).
 */
export function parseSettings(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*(.*)$/.exec(line.trim());
    if (!m) continue;
    try {
      out[m[1]!] = tokenize(m[2]!).join(' ');
    } catch {
      out[m[1]!] = m[2]!;
    }
  }
  return out;
}

export function parseLeaves(text: string): Leaf[] {
  return rows(
    text,
    5,
    ([name, opens, state, dir, cmd]) =>
      int(opens) && { name: name!, opens: Number(opens), state: state!, dir: dir!, cmd: cmd! },
  );
}

export function parseJobs(text: string): JobLine[] {
  return rows(text, 8, ([id, state, priority, queued, running, done, failed, name]) => {
    if (![id, queued, running, done, failed].every(int) || !/^-?\d+$/.test(priority!)) return undefined;
    return {
      id: Number(id),
      state: state!,
      priority: Number(priority),
      queued: Number(queued),
      running: Number(running),
      done: Number(done),
      failed: Number(failed),
      name: name!,
    };
  });
}

export function parseWorkers(text: string): WorkerLine[] {
  return rows(text, 5, ([name, state, slots, busy, attrs]) => {
    if (!int(slots) || !int(busy)) return undefined;
    const pairs = attrs!.split(/\s+/).flatMap((kv) => {
      const i = kv.indexOf('=');
      return i > 0 ? [[kv.slice(0, i), kv.slice(i + 1)] as const] : [];
    });
    return { name: name!, state: state!, slots: Number(slots), busy: Number(busy), attrs: Object.fromEntries(pairs) };
  });
}

export function parseTasks(text: string): TaskLine[] {
  return rows(text, 5, ([id, state, node, tries, status]) => {
    if (!int(id) || !int(tries)) return undefined;
    return { id: Number(id), state: state!, node: node!, tries: Number(tries), status: status! };
  });
}

/** Each line's words, given to `make` when there are exactly `words` of them. */
function rows<T>(text: string, words: number, make: (w: string[]) => T | undefined | false): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    let w: string[];
    try {
      w = tokenize(line);
    } catch {
      continue; // an unbalanced quote: not a line of this file
    }
    if (w.length !== words) continue;
    const row = make(w);
    if (row) out.push(row);
  }
  return out;
}

function int(word: string | undefined): boolean {
  return word !== undefined && /^\d+$/.test(word);
}
