/**
 * Resolves with the reason on the first SIGINT, SIGTERM or SIGHUP, or when
 * `other` resolves with its own reason (the mount vanished, the one
 * connection of serve --stdio closed). The node then stops in order: it
 * answers blocked readers and kills its processes first. Should that hang,
 * a second signal, or `graceMs` without an end, exits at once: the fork
 * server's parent-death signal ends every leaf and auto_unmount the mount.
 */
export function onStopSignals(other?: Promise<string>, graceMs = 20_000): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const exitNow = (why: string): void => {
      process.stderr.write(`taskfs: ${why}: exiting now\n`);
      process.exit(1);
    };
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => exitNow(`still stopping after ${graceMs / 1000} s`), graceMs).unref();
      resolve(why);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => (stopping ? exitNow(`${sig} while stopping`) : stop(sig)));
    }
    void other?.then(stop);
  });
}
