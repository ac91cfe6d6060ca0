/**
 * The ctl verb table (README "ctl verbs"). A write may hold several verbs, one
 * per line; they run in order and the first failure fails the write, its
 * text kept for `err`.
 */
import { FsError } from '../ns/errors.js';
import { runCtl, whole, type VerbTable } from './ctl.js';
import type { PlacedShare, ResRequest, Session } from './session.js';
import { splice, xsplice } from './splice.js';

const verbs: VerbTable<Session> = {
  res: {
    words: [1, Infinity],
    usage: 'res N [os [machine]] | res N@NODE [optional] [N@NODE [optional]]...',
    run: (s, w) => s.reserve(parseRes(w, s.node.limits.leaves)),
  },
  exec: { words: [0, Infinity], usage: 'exec CMD [ARG...]', run: (s, w) => s.exec(w) },
  kill: { words: [0, 0], usage: 'kill', run: (s) => s.kill() },
  signal: { words: [1, 1], usage: 'signal SIG', run: (s, [sig]) => s.signal(sig!) },
  eof: { words: [0, 0], usage: 'eof', run: (s) => s.eof() },
  dir: { words: [1, 1], usage: 'dir PATH', run: (s, [path]) => s.setDir(path!) },
  nice: { words: [0, 1], usage: 'nice [N]', run: (s, [n]) => s.setNice(parseNice(n)) },
  killonclose: { words: [0, 0], usage: 'killonclose', run: (s) => void (s.killOnClose = true) },
  splice: { words: [1, 1], usage: 'splice PATH', run: (s, [path]) => splice(s, path!) },
  xsplice: { words: [2, 2], usage: 'xsplice SRC DST', run: (s, [src, dst]) => xsplice(s, src!, dst!) },
  wipe: { words: [0, 0], usage: 'wipe', run: (s) => s.wipe() },
  collect: { words: [1, 1], usage: 'collect PATTERN', run: (s, [pattern]) => s.collect(pattern!) },
  // Sent by a parent before exec: where this session's leaves stand among all, and in their subjob.
  rank: { words: [2, 6], usage: 'rank BASE SIZE [SUBJOB SUBRANK SUBSIZE [optional]]', run: (s, w) => setRank(s, w) },
  barrier: { words: [1, 1], usage: 'barrier manual|auto', run: (s, [mode]) => s.setBarrierMode(mode!) },
  release: { words: [0, 0], usage: 'release', run: (s) => s.barrier.releaseVerb() },
  drop: { words: [1, 1], usage: 'drop K', run: (s, [k]) => s.drop(whole(k!, 'drop')) },
};

function setRank(s: Session, [base, size, subjob, subRank, subSize, optional]: string[]): void {
  if (subjob !== undefined && subSize === undefined)
    throw new FsError('EINVAL', 'usage: rank BASE SIZE [SUBJOB SUBRANK SUBSIZE [optional]]');
  if (optional !== undefined && optional !== 'optional')
    throw new FsError('EINVAL', `rank: ${optional}: want optional`);
  const place =
    subjob === undefined
      ? undefined
      : { subjob: whole(subjob, 'rank'), rank: whole(subRank!, 'rank'), size: whole(subSize!, 'rank') };
  s.setRank(whole(base!, 'rank'), whole(size!, 'rank'), place, optional !== undefined);
}

export async function ctlWrite(session: Session, text: string): Promise<void> {
  const keep = (e: FsError) => void (session.lastError = e.message);
  if (session.removed) {
    const e = new FsError('ENOENT', `session ${session.id} has been removed`);
    keep(e);
    throw e;
  }
  await runCtl(verbs, session, text, 'ctl verb', keep);
}

export function parseRes(words: string[], max: number): ResRequest {
  if (words[0]!.includes('@')) return parsePlaced(words, max);
  if (words.length > 3) throw new FsError('EINVAL', 'usage: res N [os [machine]]');
  const [n, os = '*', machine = '*'] = words;
  const m = /^(\+?)(\d+)$/.exec(n!);
  if (!m) throw new FsError('EINVAL', `res: bad count ${JSON.stringify(n)}: want a whole number N or +N`);
  return { count: checkMax(Number(m[2]), max), grow: m[1] === '+', os, machine, placed: [] };
}

/** `res [+]N@NODE [optional|required] ...`: shares placed by child node name (README "Co-allocation"). */
function parsePlaced(words: string[], max: number): ResRequest {
  const placed: PlacedShare[] = [];
  let grow = false;
  for (const [i, w] of words.entries()) {
    if (w === 'optional' || w === 'required') {
      if (placed.length === 0) throw new FsError('EINVAL', `res: ${w} must follow a share N@NODE`);
      placed[placed.length - 1]!.optional = w === 'optional';
      continue;
    }
    const m = /^(\+?)(\d+)@([\w.-]+)$/.exec(w);
    if (!m || (m[1] === '+' && i > 0) || Number(m[2]) === 0)
      throw new FsError(
        'EINVAL',
        `res: bad share ${JSON.stringify(w)}: want N@NODE (N >= 1), optionally followed by optional`,
      );
    grow ||= m[1] === '+';
    placed.push({ count: Number(m[2]), node: m[3]!, optional: false });
  }
  const count = checkMax(
    placed.reduce((n, p) => n + p.count, 0),
    max,
  );
  return { count, grow, os: '*', machine: '*', placed };
}

function checkMax(count: number, max: number): number {
  if (count > max)
    throw new FsError(
      'ENOSPC',
      `res: ${count} leaves is more than the limit of ${max} per reservation (limit leaves N)`,
    );
  return count;
}

function parseNice(n: string | undefined): number {
  if (n === undefined) return 10;
  const v = whole(n, 'nice');
  if (v > 19) throw new FsError('EINVAL', 'nice: N must be 0..19');
  return v;
}
