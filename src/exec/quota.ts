/**
 * A byte budget shared by the output streams of one leaf (`spool` limit).
 * Beyond it the writer is paused by back-pressure, never killed and never
 * dropped: it goes on when the limit is raised (node ctl `limit spool N`)
 * or ends when the leaf is killed.
 */
import { park } from '../ns/park.js';

export class Quota {
  private used = 0;
  private readonly waiters = new Set<() => void>();

  /** `limit` is read on every check, so raising the node's setting takes effect at once. */
  constructor(private readonly limit: () => number) {}

  /** Count `n` bytes; false when the budget is spent (0 means no limit). */
  charge(n: number): boolean {
    this.used += n;
    return !this.exceeded;
  }

  get exceeded(): boolean {
    const limit = this.limit();
    return limit > 0 && this.used >= limit;
  }

  /** Resolves once there is room again. */
  async room(): Promise<void> {
    while (this.exceeded) await park(this.waiters, (wake) => wake);
  }

  /** The limit may have changed: let paused writers look again. */
  recheck(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }
}
