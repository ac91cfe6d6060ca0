/**
 * Leaves from this node itself: each slot is a session of the node, cloned
 * on behalf of the parent and held open by it exactly as a parent holds a
 * remote child's clone, then bound into the parent as its next child.
 */
import { allOrNone } from '../ns/all-or-none.js';
import { FsError } from '../ns/errors.js';
import type { BoundSession } from '../nodes/bound-session.js';
import type { TaskNode } from './node.js';
import type { Session } from './session.js';
import { sessionDir } from './session-files.js';

export async function reserveLocalSlots(
  node: TaskNode,
  parent: Session,
  count: number,
  firstIndex: number,
): Promise<BoundSession[]> {
  if (node.opts.strictSlots) {
    const free = node.opts.slots - node.slotsInUse();
    if (count > free)
      throw new FsError('ENOSPC', `res ${count}: only ${free} of ${node.opts.slots} slots free (--strict-slots)`);
  }
  return allOrNone(
    Array.from({ length: count }, (_, i) => localSlot(node, parent, firstIndex + i)),
    (c) => c.release(),
  );
}

/** A session of the node bound as leaf `index` of `parent`; sessions are numbered in call order. */
async function localSlot(node: TaskNode, parent: Session, index: number): Promise<BoundSession> {
  const { session, handle } = node.openClone();
  session.boundIn = { parent, index };
  const child: BoundSession = {
    dir: sessionDir(session, String(session.id)),
    ctl: handle,
    topology: '',
    release: async () => {
      await handle.close();
      session.boundIn = undefined;
      await session.remove();
    },
  };
  try {
    await handle.write(Buffer.from('res 0\n'), 0);
  } catch (err) {
    await child.release().catch(() => undefined);
    throw err;
  }
  return child;
}
