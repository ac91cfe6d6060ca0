import { FsError } from './errors.js';

/**
 * Wait until woken. `make` turns the wake function into the entry kept in
 * `waiters`; the owner wakes by calling it (and clearing the set). When
 * `signal` aborts first the entry is removed and the promise rejects EINTR,
 * so an interrupted read has consumed nothing and may be retried.
 */
export function park<W>(waiters: Set<W>, make: (wake: () => void) => W, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new FsError('EINTR', 'interrupted'));
  return new Promise((resolve, reject) => {
    const entry = make(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    const onAbort = () => {
      waiters.delete(entry);
      reject(new FsError('EINTR', 'interrupted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    waiters.add(entry);
  });
}

/** Wake everyone parked in `waiters`; the set is emptied first, so a woken waiter may park again. */
export function wakeAll(waiters: Set<() => void>): void {
  const all = [...waiters];
  waiters.clear();
  for (const wake of all) wake();
}
