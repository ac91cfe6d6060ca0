/**
 * Where tasks run: one interface, several sources (README "Jobs: where
 * tasks run"): the node's own slots (local-worker.ts), a child node,
 * mounted or joined (child-worker.ts), and a program on the pull door
 * (door-worker.ts).
 *
 * Contract: the scheduler calls `run` only while `free()` > 0 and the
 * worker is not lost, with a task no other worker has; it calls `changed`
 * (set by the scheduler) whenever the worker may take more, or was lost.
 */
export interface TaskRun {
  job: number;
  task: number;
  /** 1 on the first attempt. */
  try: number;
  argv: readonly string[];
  /** TASKFS_JOB, TASKFS_TASK, TASKFS_TRY. */
  env: Record<string, string>;
  /** Where the task's stdout and stderr go (whole files, written by the worker). */
  outPath: string;
  errPath: string;
  /** Aborts on cancel, timeout, or the task's job being wiped: kill the task. */
  signal: AbortSignal;
  /**
   * Set by a worker that wrote outPath and errPath itself as it ran: their
   * lengths and last bytes, which the scheduler then need not read back.
   */
  ends?: OutputEnds;
}

/** Length and last byte of a task's out and errout files. */
export interface OutputEnds {
  out: [number, number | undefined];
  err: [number, number | undefined];
}

export interface Worker {
  readonly name: string;
  /** KEY=VALUE attributes jobs `need`. */
  readonly attrs: Map<string, string>;
  /** Why it is gone (it shows Lost), or undefined while Up. */
  readonly lost: string | undefined;
  /** Capacity shown in jobs/nodes. */
  slots(): number;
  /** How many more tasks it can take now. */
  free(): number;
  /**
   * Runs a task to its end; resolves with its status as in a session's
   * wait ('' for exit 0, 'exit: N', 'killed', 'fail: REASON'). Rejects
   * (with the reason) when the worker is lost while it runs: the task goes
   * back to the queue.
   */
  run(task: TaskRun): Promise<string>;
  /** The worker leaves (`delnode`, node stop): running tasks end as lost. */
  close(): Promise<void>;
  changed?: () => void;
}

export function attrText(attrs: Map<string, string>): string {
  return [...attrs].map(([k, v]) => `${k}=${v}`).join(' ');
}

export function parseAttr(word: string): [string, string] | undefined {
  const at = word.indexOf('=');
  if (at < 1) return undefined;
  return [word.slice(0, at), word.slice(at + 1)];
}
