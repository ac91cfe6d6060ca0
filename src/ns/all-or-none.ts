/**
 * "All of them, or none": several things made in parallel (children
 * reserved, files opened), where one failure must undo the others.
 */

/**
 * Waits for every task to settle. When all succeeded, their results in
 * order; else `undo` is applied to each result that was made and the first
 * failure is thrown.
 */
export async function allOrNone<T>(tasks: Promise<T>[], undo: (made: T) => Promise<unknown>): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const made = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed) return made;
  await Promise.allSettled(made.map(undo));
  throw failed.reason;
}
