/**
 * The ctl verb table (README "ctl verbs"). A write may hold several verbs, one
 * per line; they run in order and the first failure fails the write, its
 * text kept for `err`.
 */
import { FsError } from '../ns/errors.js';
import { runCtl, whole, type VerbTable } from './ctl.js';
import type { Session } from './session.js';
import { splice, xsplice } from './splice.js';

const verbs: VerbTable<Session> = {
  res: { words: [1, 3], usage: 'res N [os [machine]]', run: (s, w) => s.reserve(parseRes(w, s.node.limits.leaves)) },
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
  // Sent by a parent before exec: where this session's leaves stand among all.
  rank: { words: [2, 2], usage: 'rank BASE SIZE', run: (s, [b, n]) => s.setRank(whole(b!, 'rank'), whole(n!, 'rank')) },
};

export async function ctlWrite(session: Session, text: string): Promise<void> {
  const keep = (e: FsError) => void (session.lastError = e.message);
  if (session.removed) {
    const e = new FsError('ENOENT', `session ${session.id} has been removed`);
    keep(e);
    throw e;
  }
  await runCtl(verbs, session, text, 'ctl verb', keep);
}

function parseRes([n, os = '*', machine = '*']: string[], max: number) {
  const m = /^(\+?)(\d+)$/.exec(n!);
  if (!m) throw new FsError('EINVAL', `res: bad count ${JSON.stringify(n)}: want a whole number N or +N`);
  const count = Number(m[2]);
  if (count > max)
    throw new FsError(
      'ENOSPC',
      `res: ${count} leaves is more than the limit of ${max} per reservation (limit leaves N)`,
    );
  return { count, grow: m[1] === '+', os, machine };
}

function parseNice(n: string | undefined): number {
  if (n === undefined) return 10;
  const v = whole(n, 'nice');
  if (v > 19) throw new FsError('EINVAL', 'nice: N must be 0..19');
  return v;
}
