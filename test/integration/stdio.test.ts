/**
 * `taskfs serve --stdio` (README "Many machines"): one 9P connection on the
 * process's stdin and stdout, as ssh and srun start it; closing it stops
 * the node and ends what it started.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { connectStream } from '../../src/ninep/client.js';
import { walkNames } from '../../src/ns/walk.js';
import { pidsMatching, taskfsBin, until } from '../helpers/daemon.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('serve --stdio', () => {
  it('serves a session over its stdio and stops, leaving no process, when the channel closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskfs-stdio-'));
    dirs.push(dir);
    const proc = spawn(taskfsBin, ['serve', '--stdio', '--slots', '2', '--workdir', join(dir, 'work')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    try {
      const client = await connectStream(Duplex.from({ readable: proc.stdout, writable: proc.stdin }), 'stdio', {
        timeoutMs: 10_000,
      });
      const ctl = await (await walkNames(client.root, ['clone'])).open!({ read: true, write: true });
      const id = (await ctl.read(0, 32)).toString();
      const marker = `stdio-marker-${process.pid}`;
      await ctl.write(Buffer.from(`res 2\nexec sh -c 'echo hi; sleep 100' ${marker}\n`), 0);
      const stdout = await (await walkNames(client.root, [id, 'stdout'])).open!({ read: true, write: false });
      await until(async () => (await stdout.read(0, 64)).toString() === 'hi\nhi\n', 5000);
      expect(await pidsMatching(marker)).toHaveLength(2);
      proc.stdin.end();
      expect(await exited).toBe(0);
      await until(async () => (await pidsMatching(marker)).length === 0, 5000);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('is refused without --listen or --stdio', async () => {
    const proc = spawn(taskfsBin, ['serve'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (c) => (err += c));
    expect(await new Promise((r) => proc.on('exit', r))).toBe(2);
    expect(err).toContain('--listen ADDR or --stdio is required');
  });
});
