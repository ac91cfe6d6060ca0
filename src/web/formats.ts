/**
 * The files' text turned into the monitor's JSON (README "Web monitor"):
 * each parser takes what `cat` shows and keeps the files' own words (Up,
 * Execute, Queued ...). A line that does not parse is left out, never
 * guessed at: the monitor shows what the files say, or nothing.
 */
import { tokenize } from '../ns/quote.js';
import {
  type JobStatus,
  parseJobStatus,
  parseTaskStatus,
  parseWorker,
  type TaskStatus,
  type Worker,
} from '../taskfs/formats.js';

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

/** One line of `jobs/status`, `jobs/nodes`, `jobs/N/status`: read by the parsers every client uses. */
export type JobLine = JobStatus;
export type WorkerLine = Worker;
export type TaskLine = TaskStatus;

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
  return parsed(text, parseJobStatus);
}

export function parseWorkers(text: string): WorkerLine[] {
  return parsed(text, parseWorker);
}

export function parseTasks(text: string): TaskLine[] {
  return parsed(text, parseTaskStatus);
}

/** The lines `parse` understands; the others are left out. */
function parsed<T>(text: string, parse: (line: string) => T): T[] {
  return text.split('\n').flatMap((line) => {
    try {
      return line.trim() === '' ? [] : [parse(line)];
    } catch {
      return [];
    }
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
