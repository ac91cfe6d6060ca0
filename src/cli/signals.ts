/**
 * Resolves with the reason on the first SIGINT, SIGTERM or SIGHUP, or when
 * `other` resolves (the mount vanished). Later signals are ignored while
 * the node stops: it answers blocked readers and kills its processes first.
 */
export function onStopSignals(other?: Promise<void>): Promise<string> {
  return new Promise((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => resolve(sig));
    void other?.then(() => resolve('unmounted from outside'));
  });
}
