/**
 * A progress line on a terminal (`submit --wait`): done/total, failures,
 * rate and time left, redrawn in place on stderr. Output passes through
 * `around`, which lifts the line out of the way and puts it back. Not on a
 * terminal it draws nothing: piped output is results only.
 */
import { bar } from './table.js';

const REDRAW_MS = 100;

export class Progress {
  private readonly start = Date.now();
  private doneCount = 0;
  private failed = 0;
  private shown = false;
  private drawnAt = 0;
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
  ) {
    if (out.isTTY) this.timer = setInterval(() => this.draw(), 1000).unref();
  }

  update(done: number, failed: number): void {
    this.doneCount = done;
    this.failed = failed;
    if (Date.now() - this.drawnAt >= REDRAW_MS) this.draw();
  }

  /** Run `write` (output to the same terminal) with the line out of its way. */
  async around(write: () => Promise<void>): Promise<void> {
    this.clear();
    await write();
    this.draw();
  }

  /** The last line stays, with the time it all took. */
  done(): void {
    clearInterval(this.timer);
    if (!this.out.isTTY) return;
    this.clear();
    this.out.write(`${this.line(true)}\n`);
  }

  line(final = false): string {
    const secs = (Date.now() - this.start) / 1000;
    const rate = secs > 0 ? this.doneCount / secs : 0;
    const left = this.total - this.doneCount;
    const when = final ? `in ${duration(secs)}` : rate > 0 ? `${duration(left / rate)} left` : '';
    const failed = this.failed > 0 ? `, ${this.failed} failed` : '';
    return `${bar(this.doneCount, this.total)} ${this.doneCount}/${this.total} done${failed}, ${rate.toFixed(1)}/s ${when}`.trimEnd();
  }

  private draw(): void {
    if (!this.out.isTTY) return;
    this.drawnAt = Date.now();
    this.out.write(`\r${this.line()}\x1b[K`);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

/** 9s, 2m05s, 1h02m. */
export function duration(secs: number): string {
  const s = Math.round(secs);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
