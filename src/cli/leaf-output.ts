/**
 * Where `taskfs run` puts what the leaves write: as it comes (plain), one
 * line at a time behind the leaf's rank (`--label`, as pdsh does), or kept
 * until the end and each distinct output printed once under the ranks that
 * gave it (`--fold`, as `dshbak -c` does).
 */
import type { Writable } from 'node:stream';
import { compressRanks } from '../taskfs/formats.js';

/**
 * Write, waiting for a slow reader (a pipe into `less`) rather than
 * buffering without end; nothing once the reader has gone (EPIPE).
 */
export async function put(out: Writable, data: string | Buffer): Promise<void> {
  if (out.destroyed || out.write(data)) return;
  let drained = drains.get(out);
  if (!drained) {
    drained = new Promise<void>((r) => out.once('drain', r).once('close', r)).finally(() => drains.delete(out));
    drains.set(out, drained);
  }
  await drained;
}

/** One wait for 'drain' per stream, however many leaves are writing to it. */
const drains = new WeakMap<Writable, Promise<void>>();

/** Cuts a byte stream into whole lines; the last partial line comes out at `end`. */
export class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);

  push(data: Buffer): string[] {
    const all = this.rest.length > 0 ? Buffer.concat([this.rest, data]) : data;
    const cut = all.lastIndexOf(0x0a);
    if (cut < 0) {
      this.rest = all;
      return [];
    }
    this.rest = Buffer.from(all.subarray(cut + 1));
    return all.subarray(0, cut).toString().split('\n');
  }

  end(): string[] {
    const last = this.rest.toString();
    this.rest = Buffer.alloc(0);
    return last === '' ? [] : [last];
  }
}

const colour = (text: string, on: boolean): string => (on ? `\x1b[36m${text}\x1b[0m` : text);

/** `--label`: each line of one leaf's stream behind `LABEL: `, coloured on a terminal. */
export function labelled(out: Writable & { isTTY?: boolean }, label: string) {
  const lines = new LineSplitter();
  const prefix = colour(`${label}:`, out.isTTY === true);
  const emit = (ls: string[]) => (ls.length === 0 ? undefined : put(out, ls.map((l) => `${prefix} ${l}\n`).join('')));
  return {
    data: (d: Buffer) => emit(lines.push(d)),
    end: () => emit(lines.end()),
  };
}

/** `--fold`: every rank's whole output, then each distinct one once, as dshbak -c prints it. */
export class Folder {
  private readonly outputs = new Map<number, Buffer[]>();

  data(rank: number, d: Buffer): void {
    let parts = this.outputs.get(rank);
    if (!parts) this.outputs.set(rank, (parts = []));
    parts.push(d);
  }

  /** Groups in the order of their lowest rank; ranks with no output at all are left out, as dshbak does. */
  render(tty = false): string {
    const groups = new Map<string, number[]>();
    for (const rank of [...this.outputs.keys()].sort((a, b) => a - b)) {
      const text = Buffer.concat(this.outputs.get(rank)!).toString();
      if (text === '') continue;
      let ranks = groups.get(text);
      if (!ranks) groups.set(text, (ranks = []));
      ranks.push(rank);
    }
    const rule = '-'.repeat(16);
    return [...groups]
      .map(([text, ranks]) => {
        const body = text.endsWith('\n') ? text : `${text}\n`;
        return `${rule}\n${colour(compressRanks(ranks), tty)}\n${rule}\n${body}`;
      })
      .join('');
  }
}
