/**
 * `taskfs top`: the frame of top-view.ts, redrawn every few seconds on
 * the terminal's alternate screen without flicker: the cursor goes home and
 * each line is overwritten and cleared to its end, never the whole screen
 * first. q (or Ctrl-C) quits and gives the screen back. Not on a terminal
 * it prints one frame and exits.
 */
import { clientMain, mountArgs } from './client-main.js';
import { UsageError } from './options.js';
import { readJobs, readNodes, readSessions } from './snapshot.js';
import { clip } from './table.js';
import { frame, type View } from './top-view.js';

const ENTER = '\x1b[?1049h\x1b[?25l'; // alternate screen, cursor hidden
const LEAVE = '\x1b[?25h\x1b[?1049l';

export const topCommand = clientMain('top', async (argv) => {
  const args = await mountArgs(argv, { delay: { value: true, short: 'd' } });
  if (args === 'help') return 'help';
  const delay = Number(args.values.delay ?? 1);
  if (!(delay >= 0.1 && delay <= 3600))
    throw new UsageError(`-d wants seconds from 0.1 to 3600, not ${args.values.delay}`);
  if (!process.stdout.isTTY) {
    process.stdout.write(`${frame(await look(args.mount), false).join('\n')}\n`);
    return 0;
  }
  await live(args.mount, delay * 1000);
  return 0;
});

async function look(mount: string): Promise<View> {
  try {
    const [nodes, sessions, jobs] = await Promise.all([readNodes(mount), readSessions(mount), readJobs(mount)]);
    return { mount, nodes, sessions, jobs };
  } catch (err) {
    return { mount, sessions: [], error: (err as Error).message };
  }
}

function live(mount: string, delayMs: number): Promise<void> {
  const { stdin, stdout } = process;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let quitting = false;
    const quit = () => {
      quitting = true;
      clearTimeout(timer);
      stdout.write(LEAVE);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      resolve();
    };
    const draw = async () => {
      const view = await look(mount);
      if (quitting) return;
      const lines = frame(view, true).slice(0, stdout.rows);
      stdout.write(`\x1b[H${lines.map((l) => `${clip(l, stdout.columns)}\x1b[K`).join('\r\n')}\x1b[J`);
      clearTimeout(timer);
      timer = setTimeout(draw, delayMs);
    };
    stdout.write(ENTER);
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (key: Buffer) => {
      const k = key.toString();
      if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x04') quit();
      else void draw(); // any other key redraws now
    });
    stdout.on('resize', () => void draw());
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.once(sig, quit);
    void draw();
  });
}
