/**
 * A plain 9P2000 client, written here and sharing no code with src/ninep,
 * drives a session on a `taskfs serve` node (README "Many machines").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuseMissing } from '../helpers/fuse.js';
import { run, startMount, startServe, stopAll, type Daemon } from '../helpers/daemon.js';
import { OREAD, ORDWR, OWRITE, RFLUSH, RREAD, Raw9p } from '../helpers/raw9p.js';

describe('a plain 9P2000 client', () => {
  let node: Daemon & { addr: string };
  let c: Raw9p;
  beforeAll(async () => {
    node = await startServe(['--slots', '2']);
    c = await Raw9p.dial(node.addr);
    expect(await c.version()).toBe('9P2000');
    await c.attach(0);
  });
  afterAll(async () => {
    c?.close();
    await stopAll();
  });

  it('attaches, walks, opens, reads clone and drives a session', async () => {
    expect(await c.walk(0, 1, ['clone'])).toBe(1);
    await c.open(1, ORDWR);
    const n = (await c.read(1, 0, 64)).toString();
    expect(n).toMatch(/^\d+$/);
    await c.write(1, 0, 'res 2\n');
    await c.write(1, 0, 'exec echo hi from 9p\n');
    expect(await c.walk(0, 2, [n, 'stdout'])).toBe(2);
    await c.open(2, OREAD);
    expect(await c.readAll(2)).toBe('hi from 9p\nhi from 9p\n');
    expect(await c.walk(0, 3, [n, 'topology'])).toBe(2);
    await c.open(3, OREAD);
    expect(await c.readAll(3)).toBe('0 1');
    for (const fid of [1, 2, 3]) await c.clunk(fid);
  });

  it('names errors in Plan 9 words', async () => {
    await expect(c.walk(0, 4, ['no-such-file'])).rejects.toThrow(/file does not exist/);
    expect(await c.walk(0, 4, ['arch'])).toBe(1);
    await expect(c.open(4, OWRITE)).rejects.toThrow(/permission denied/);
    await c.clunk(4);
  });

  it('Tflush of a blocked wait read answers at once, and the read is never answered', async () => {
    expect(await c.walk(0, 5, ['clone'])).toBe(1);
    await c.open(5, ORDWR);
    const n = (await c.read(5, 0, 64)).toString();
    await c.write(5, 0, 'exec sleep 30\n');
    expect(await c.walk(0, 6, [n, 'wait'])).toBe(2);
    await c.open(6, OREAD);
    const blocked = c.readReq(6, 0, 1024);
    await new Promise((r) => setTimeout(r, 200));
    const flush = c.flush(blocked.tag);
    const r = await flush.reply;
    expect(r.type).toBe(RFLUSH);
    await new Promise((r2) => setTimeout(r2, 200));
    expect(c.replies.some((x) => x.tag === blocked.tag && x.type === RREAD)).toBe(false);
    // Closing the clone handle releases the session: the sleep ends.
    await c.clunk(6);
    await c.clunk(5);
  });
});

describe.skipIf(fuseMissing)('mount --listen: one node, two faces', () => {
  afterAll(stopAll);

  it('a session made through FUSE is read over 9P', async () => {
    const d = await startMount(['--listen', 'tcp!127.0.0.1!0']);
    const addr = /listening on (\S+)\)/.exec(d.stderr())![1]!;
    const n = (
      await run('n=$(cat clone); echo $n; echo exec echo both faces > $n/ctl; cat $n/wait > /dev/null', { cwd: d.mnt })
    ).trim();
    const c = await Raw9p.dial(addr);
    try {
      await c.version();
      await c.attach(0);
      expect(await c.walk(0, 1, [n, 'stdout'])).toBe(2);
      await c.open(1, OREAD);
      expect(await c.readAll(1)).toBe('both faces\n');
    } finally {
      c.close();
    }
  });
});
