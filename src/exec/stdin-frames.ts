/**
 * Stdin bytes on their way to the process server, gathered into as few
 * frames as they can go in. A session fans each write out to its leaves, the
 * same buffer to each; leaves that were given the same buffers since the
 * last frames go as one frame naming them all (the server copies the bytes
 * once, and writes them to each leaf's pipe), and a writer's small writes
 * that come close together go as one frame rather than one each.
 *
 * Each leaf is in one frame at most per take(), its bytes in the order they
 * were written: frames taken in turn keep every leaf's order.
 */

/** One frame: these bytes, in this order, for each of these leaves. */
export interface StdinFrame {
  ids: string[];
  parts: Buffer[];
}

export class StdinFrames {
  private readonly pending = new Map<string, { parts: Buffer[]; bytes: number }>();
  /** Bytes queued for the leaf that has the most. */
  most = 0;

  add(id: string, data: Buffer): void {
    let q = this.pending.get(id);
    if (!q) this.pending.set(id, (q = { parts: [], bytes: 0 }));
    q.parts.push(data);
    q.bytes += data.length;
    this.most = Math.max(this.most, q.bytes);
  }

  get empty(): boolean {
    return this.pending.size === 0;
  }

  /** Everything queued, leaves with the same buffers (the same objects, in order) grouped. */
  take(): StdinFrame[] {
    const frames: StdinFrame[] = [];
    const byFirst = new Map<Buffer, StdinFrame[]>();
    for (const [id, { parts }] of this.pending) {
      const same = byFirst.get(parts[0]!) ?? [];
      const frame = same.find((f) => f.parts.length === parts.length && f.parts.every((p, i) => p === parts[i]));
      if (frame) {
        frame.ids.push(id);
        continue;
      }
      const made = { ids: [id], parts };
      frames.push(made);
      same.push(made);
      byFirst.set(parts[0]!, same);
    }
    this.pending.clear();
    this.most = 0;
    return frames;
  }
}
