/**
 * Twalk (walk(9P)): elementwise from fid; a failure at the first element is
 * an Rerror, a later failure a short Rwalk that leaves newfid untouched,
 * and only a complete walk binds newfid.
 */
import type { Node, Qid } from '../ns/types.js';
import { QTDIR } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import type { Msg, Untagged } from './messages.js';
import type { ConnState } from './fid.js';
import { Fid, interrupted, lookupFid, roomForFid } from './fid.js';
import { assertQid } from './stat.js';

export async function walk(s: ConnState, msg: Msg<'Twalk'>, signal: AbortSignal): Promise<Untagged<Msg<'Rwalk'>>> {
  const from = lookupFid(s, msg.fid);
  if (from.open !== undefined || from.opening) {
    throw new FsError('EBADF', 'cannot walk from an open fid');
  }
  if (msg.newfid !== msg.fid && s.fids.has(msg.newfid)) {
    throw new FsError('EBADF', 'fid already in use');
  }
  if (msg.newfid !== msg.fid) roomForFid(s);
  let nodes = [...from.nodes];
  let qid = from.qid;
  const wqids: Qid[] = [];
  for (const name of msg.wnames) {
    try {
      ({ nodes, qid } = await step(nodes, qid, name));
    } catch (err) {
      if (wqids.length === 0) throw err;
      break;
    }
    if (signal.aborted) throw interrupted();
    wqids.push(qid);
  }
  if (wqids.length === msg.wnames.length) {
    // Re-check: other requests ran while this one awaited the tree.
    if (s.fids.get(msg.fid) !== from) throw new FsError('EBADF', 'unknown fid');
    if (msg.newfid !== msg.fid && s.fids.has(msg.newfid)) {
      throw new FsError('EBADF', 'fid already in use');
    }
    if (msg.newfid !== msg.fid) roomForFid(s);
    s.fids.set(msg.newfid, new Fid(nodes, qid));
  }
  return { type: 'Rwalk', wqids };
}

async function step(nodes: Node[], qid: Qid, name: string): Promise<{ nodes: Node[]; qid: Qid }> {
  if ((qid.type & QTDIR) === 0) throw new FsError('ENOTDIR', 'not a directory');
  if (name === '..') {
    // '..' of the root is the root (walk(9P)).
    const up = nodes.length > 1 ? nodes.slice(0, -1) : nodes;
    const st = await up[up.length - 1]!.stat();
    return { nodes: up, qid: assertQid(st.qid, 'walk ..') };
  }
  const dir = nodes[nodes.length - 1]!;
  if (name === '' || name === '.' || name.includes('/') || name.includes('\0')) {
    throw new FsError('ENOENT', 'file does not exist');
  }
  if (dir.walk === undefined) throw new FsError('ENOTDIR', 'not a directory');
  const child = await dir.walk(name);
  if (child === undefined) throw new FsError('ENOENT', 'file does not exist');
  const st = await child.stat();
  return { nodes: [...nodes, child], qid: assertQid(st.qid, `walk ${name}`) };
}
