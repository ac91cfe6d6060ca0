/**
 * Leaves from this node itself: each slot is a session of the node, cloned
 * on behalf of the parent and held open by it exactly as a parent holds a
 * remote child's clone, then bound into the parent as its next child.
 */
import { FsError } from '../ns/errors.js';
import type { BoundSession } from '../taskfs/bound-session.js';
import type { TaskNode } from '../taskfs/node.js';
import type { Session } from '../taskfs/session.js';
import { sessionDir } from '../taskfs/session-files.js';

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
  const children: BoundSession[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const { session, handle } = node.openClone();
      session.boundIn = { parent, index: firstIndex + i };
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
      children.push(child);
      await handle.write(Buffer.from('res 0\n'), 0);
    }
    return children;
  } catch (err) {
    await Promise.allSettled(children.map((c) => c.release()));
    throw err;
  }
}
