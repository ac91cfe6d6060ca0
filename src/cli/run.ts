/**
 * `taskfs run`: one whole session against a mount, the worked session of
 * the README as one command: clone, res, exec, output as it comes, the
 * worst exit status, wipe. Ctrl-C kills the leaves; a second one leaves at
 * once (the open clone handle then releases them as it closes).
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { quote } from '../ns/quote.js';
import { parseClientArgs } from './client-args.js';
import { exitStatus, lines, parseLeafWait } from '../taskfs/formats.js';
import { childNames, leafNodes } from './leaf-nodes.js';
import { Folder, LineSplitter, labelled, put } from './leaf-output.js';
import { CloneHandle, checkMount, follow, mountPath, readText } from './mount-files.js';
import { positiveInt, UsageError } from './options.js';
import { clientMain } from './client-main.js';

const spec = {
  mount: { value: true, short: 'm' },
  leaves: { value: true, short: 'n' },
  label: {},
  fold: {},
  where: { value: true },
  help: { short: 'h' },
};

interface RunArgs {
  mount: string;
  leaves: number;
  label: boolean;
  fold: boolean;
  os: string;
  machine: string;
  argv: string[];
}

function parseRunArgs(argv: string[]): RunArgs | 'help' {
  const { values: v, positionals } = parseClientArgs(argv, spec, { stopAtPositional: true });
  if (v.help) return 'help';
  if (positionals.length === 0) throw new UsageError('no command given');
  if (v.label && v.fold) throw new UsageError('--label and --fold do not mix: choose one');
  if (positionals.some((w) => w.includes('\n'))) throw new UsageError('an argument may not hold a newline');
  const [os = '*', machine = '*', extra] = ((v.where as string | undefined) ?? '*').split('/');
  if (os === '' || machine === '' || extra !== undefined)
    throw new UsageError(`--where wants OS or OS/MACHINE (e.g. Linux/x86_64, */aarch64), not ${v.where}`);
  return {
    mount: mountPath(v.mount as string | undefined),
    leaves: positiveInt(v.leaves as string | undefined, '-n') ?? 1,
    label: v.label === true,
    fold: v.fold === true,
    os,
    machine,
    argv: positionals,
  };
}

export const runCommand = clientMain('run', async (argv) => {
  const args = parseRunArgs(argv);
  if (args === 'help') return 'help';
  await checkMount(args.mount);
  return new Run(args).go();
});

class Run {
  private session?: CloneHandle;
  private interrupted?: number; // the exit status the interruption gives
  /** Aborted on an interruption: the output of killed leaves is not worth reading to its end. */
  private readonly quit = new AbortController();
  private readonly folder = new Folder();

  constructor(private readonly args: RunArgs) {}

  async go(): Promise<number> {
    const offSignals = this.onSignals();
    try {
      return await this.runSession();
    } finally {
      offSignals();
      if (this.session) {
        await this.session.ctl('wipe').catch(() => undefined);
        await this.session.close();
      }
    }
  }

  private async runSession(): Promise<number> {
    const { args } = this;
    const s = (this.session = await CloneHandle.open(args.mount));
    if (this.interrupted !== undefined) return this.interrupted;
    const tree = args.label && (await childNames(args.mount)).length > 0;
    await s.ctl(`res ${args.leaves} ${quote(args.os)} ${quote(args.machine)}`).catch((err: Error) => {
      throw new Error(`cannot reserve ${args.leaves} leaves: ${err.message}`);
    });
    if (this.interrupted !== undefined) return this.interrupted;

    const leaves = (await readText(join(s.dir, 'topology'))).split(' ').filter(Boolean);
    const labels = tree
      ? (await leafNodes(args.mount, s.dir, leaves, `${process.pid}.${randomBytes(4).toString('hex')}`)).map(
          (node, rank) => (node ? `${rank} ${node}` : `${rank}`),
        )
      : leaves.map((_, rank) => `${rank}`);
    // A terminal's input is not for the leaves (a leaf reading stdin gets EOF); a pipe's is, to every leaf.
    if (process.stdin.isTTY) await s.ctl('eof');
    try {
      await s.ctl(`exec ${args.argv.map(quote).join(' ')}`);
    } catch (err) {
      return this.cannotStart(err as NodeJS.ErrnoException);
    }
    if (this.interrupted !== undefined) await s.ctl('kill').catch(() => undefined); // Ctrl-C during exec
    if (!process.stdin.isTTY) void this.feed(s);

    const worst = this.worstExit(join(s.dir, 'wait'));
    const output = args.label || args.fold ? this.perLeaf(s.dir, leaves, labels) : this.aggregated(s.dir);
    const [status] = await Promise.all([worst, output]);
    if (args.fold) await put(process.stdout, this.folder.render(process.stdout.isTTY));
    return this.interrupted ?? status;
  }

  /**
   * Our stdin to the session's `stdin` (every leaf's), then `eof`. Not
   * waited for: the run ends with its leaves, whether or not they read it.
   */
  private async feed(s: CloneHandle): Promise<void> {
    const fh = await open(join(s.dir, 'stdin'), 'w').catch(() => undefined);
    if (!fh) return;
    try {
      for await (const chunk of process.stdin) await fh.write(chunk as Buffer);
      await s.ctl('eof');
    } catch {
      // the session ended first: nobody is left to read
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** exec refused: the program could not start (on at least one leaf). One line, and a shell's status. */
  private cannotStart(err: NodeJS.ErrnoException): number {
    const cmd = this.args.argv[0]!;
    if (err.code === 'ENOENT') {
      process.stderr.write(`taskfs run: ${cmd}: command not found\n`);
      return 127;
    }
    if (err.code === 'EACCES') {
      process.stderr.write(`taskfs run: ${cmd}: permission denied\n`);
      return 126;
    }
    process.stderr.write(`taskfs run: ${err.message}\n`);
    return 1;
  }

  /** The highest exit status over the leaves, from the session's `wait`. */
  private async worstExit(path: string): Promise<number> {
    let worst = 0;
    const splitter = new LineSplitter();
    const take = (ls: string[]) => {
      for (const w of lines(ls.join('\n'), parseLeafWait)) worst = Math.max(worst, exitStatus(w.status));
    };
    await follow(path, (d) => take(splitter.push(d)));
    take(splitter.end());
    return worst;
  }

  /** No labels: the session's own streams, already merged line by line by the node. */
  private async aggregated(dir: string): Promise<void> {
    await Promise.all([
      follow(join(dir, 'stdout'), (d) => put(process.stdout, d), this.quit.signal),
      follow(join(dir, 'stderr'), (d) => put(process.stderr, d), this.quit.signal),
    ]);
  }

  /** --label and --fold: every leaf's own stdout and stderr (stderr stays stderr, labelled). */
  private async perLeaf(dir: string, leaves: string[], labels: string[]): Promise<void> {
    await Promise.all(
      leaves.flatMap((leaf, rank) => {
        const { signal } = this.quit;
        const err = labelled(process.stderr, labels[rank]!);
        const stderr = follow(join(dir, leaf, 'stderr'), err.data, signal).then(err.end);
        if (this.args.fold)
          return [follow(join(dir, leaf, 'stdout'), (d) => this.folder.data(rank, d), signal), stderr];
        const out = labelled(process.stdout, labels[rank]!);
        return [follow(join(dir, leaf, 'stdout'), out.data, signal).then(out.end), stderr];
      }),
    );
  }

  /**
   * First SIGINT (or TERM, HUP): kill the leaves and let their ends be
   * read; a second: leave now. A reader of our stdout that goes away
   * (`| head`) is a SIGPIPE: kill the leaves too, and exit 141 as a shell would.
   */
  private onSignals(): () => void {
    const stop = (status: number, note: string) => {
      if (this.interrupted !== undefined) process.exit(status);
      this.interrupted = status;
      if (note && process.stderr.isTTY) process.stderr.write(note);
      this.quit.abort();
      void this.session?.ctl('kill').catch(() => undefined);
    };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
      const handler = () =>
        stop(
          128 + { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[sig],
          '\ntaskfs run: killing the leaves (again to leave at once)\n',
        );
      process.on(sig, handler);
      return () => process.off(sig, handler);
    });
    const onEpipe = () => this.interrupted ?? stop(128 + 13, '');
    process.stdout.on('error', onEpipe);
    return () => {
      for (const off of handlers) off();
      process.stdout.off('error', onEpipe);
    };
  }
}
