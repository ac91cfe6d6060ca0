/**
 * Hostlists as pdsh, Slurm and ClusterShell write them (README "SSH and
 * hostlists"): `node[01-16],gpu[1-2,5],admin@login`. Commas outside
 * brackets separate entries; a bracket holds numbers and ranges (`1-4`,
 * `1-9/2` by steps), zero padded when the low end is (`[08-10]` is 08 09
 * 10); several groups in one entry multiply (`r[1-2]n[1-2]` is r1n1 r1n2
 * r2n1 r2n2). `user@` on an entry applies to all its hosts. Duplicates are
 * dropped, the first kept. Anything else is refused with the entry and why.
 */
import { FsError } from '../ns/errors.js';

/** More hosts than this is a typo (`node[1-1000000]`), not a cluster. */
export const MAX_HOSTS = 65_536;

export function expandHostlist(list: string): string[] {
  if (list.trim() === '') throw bad(list, 'empty hostlist');
  const hosts = new Set<string>();
  for (const entry of splitEntries(list)) {
    for (const host of expandEntry(entry)) {
      hosts.add(host);
      if (hosts.size > MAX_HOSTS) throw bad(list, `more than ${MAX_HOSTS} hosts`);
    }
  }
  return [...hosts];
}

/** Top-level commas: those outside brackets. */
function splitEntries(list: string): string[] {
  const entries: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= list.length; i++) {
    const c = list[i];
    if (c === '[') {
      if (depth > 0) throw bad(list, 'brackets do not nest');
      depth++;
    } else if (c === ']') {
      if (depth === 0) throw bad(list, "']' without '['");
      depth--;
    } else if (c === undefined || (c === ',' && depth === 0)) {
      if (c === undefined && depth > 0) throw bad(list, "'[' without ']'");
      const entry = list.slice(start, i).trim();
      if (entry === '') throw bad(list, 'an empty entry (two commas, or one at an end)');
      entries.push(entry);
      start = i + 1;
    }
  }
  return entries;
}

const USER = /^[A-Za-z0-9_][\w.-]*$/;
/** Letters, digits, dots, dashes and underscores, and not an ssh option. */
const HOST = /^[A-Za-z0-9_][\w.-]*$/;

function expandEntry(entry: string): string[] {
  const at = entry.lastIndexOf('@');
  const user = at < 0 ? undefined : entry.slice(0, at);
  if (user !== undefined && !USER.test(user)) throw bad(entry, `bad user name '${user}'`);
  const pattern = entry.slice(at + 1);
  if (/\]\[/.test(pattern)) throw bad(entry, 'two bracket groups need something between them');
  // Alternating literal text and bracket bodies: text [body] text [body] text.
  const parts = pattern.split(/[[\]]/);
  let names = [''];
  for (const [i, part] of parts.entries()) {
    const choices = i % 2 === 0 ? [part] : expandRanges(entry, part);
    names = names.flatMap((n) => choices.map((c) => n + c));
    if (names.length > MAX_HOSTS) throw bad(entry, `more than ${MAX_HOSTS} hosts`);
  }
  for (const name of names) if (!HOST.test(name)) throw bad(entry, `bad host name '${name}'`);
  return user === undefined ? names : names.map((n) => `${user}@${n}`);
}

/** The inside of one bracket: `1-3,5,08-10,1-9/2`. */
function expandRanges(entry: string, body: string): string[] {
  if (body.trim() === '') throw bad(entry, 'empty brackets');
  return body.split(',').flatMap((range) => expandRange(entry, range.trim()));
}

function expandRange(entry: string, range: string): string[] {
  const m = /^(\d{1,9})(?:-(\d{1,9})(?:\/(\d{1,9}))?)?$/.exec(range);
  if (!m) {
    const why = range === '' ? 'an empty range' : `'${range}' is not a number or a range like 1-4 or 1-9/2`;
    throw bad(entry, why);
  }
  const [, loText, hiText = loText, stepText = '1'] = m as unknown as [string, string, string?, string?];
  const [lo, hi, step] = [Number(loText), Number(hiText), Number(stepText)];
  if (hi < lo) throw bad(entry, `range ${range} goes down (write ${hiText}-${loText})`);
  if (step < 1) throw bad(entry, `range ${range} has step 0`);
  const padded = loText.length > 1 && loText.startsWith('0');
  if (!padded && hiText.length > 1 && hiText.startsWith('0'))
    throw bad(entry, `range ${range}: pad the low end too (${hiText.length} digits)`);
  if ((hi - lo) / step >= MAX_HOSTS) throw bad(entry, `more than ${MAX_HOSTS} hosts`);
  const width = padded ? loText.length : 0;
  const out: string[] = [];
  for (let n = lo; n <= hi; n += step) out.push(String(n).padStart(width, '0'));
  return out;
}

function bad(what: string, why: string): FsError {
  return new FsError('EINVAL', `bad hostlist '${what}': ${why}`);
}
