/**
 * One-line warnings for the operator (refused 9P clients), rate-limited:
 * whoever can reach the port can make them happen, and a flood of them
 * must not fill the disk that stderr is logged to.
 */

export type Warn = (line: string) => void;

export interface RateLimit {
  /** Lines let through per window. */
  burst: number;
  windowMs: number;
}

/**
 * At most `burst` lines per window; the rest are counted, and the first
 * line of a later window says how many were dropped.
 */
export function rateLimited(write: Warn, limit: RateLimit = { burst: 5, windowMs: 60_000 }, now = Date.now): Warn {
  let windowStart = -Infinity;
  let sent = 0;
  let dropped = 0;
  return (line) => {
    const t = now();
    if (t - windowStart >= limit.windowMs) {
      windowStart = t;
      sent = 0;
    }
    if (sent >= limit.burst) {
      dropped++;
      return;
    }
    sent++;
    write(dropped > 0 ? `${line} (${dropped} similar warnings suppressed)` : line);
    dropped = 0;
  };
}

/** The process's stderr warnings: one limit for every listener and connection. */
export const stderrWarn: Warn = rateLimited((line) => {
  process.stderr.write(`${line}\n`);
});
