/** Client fid numbers, recycled so a long-lived client stays in a small range. */
import { FsError } from '../ns/errors.js';
import { NOFID } from './constants.js';

export class FidPool {
  private next = 0;
  private readonly spare: number[] = [];
  private readonly used = new Set<number>();

  get inUse(): number {
    return this.used.size;
  }

  alloc(): number {
    const fid = this.spare.pop() ?? this.next++;
    if (fid >= NOFID) throw new FsError('EMFILE', 'out of fids');
    this.used.add(fid);
    return fid;
  }

  /** Idempotent: a fid freed twice must not be handed out twice. */
  free(fid: number): void {
    if (this.used.delete(fid)) this.spare.push(fid);
  }
}
