/**
 * The web monitor's JSON interface against a real node (README "Web
 * monitor"): reads are the files, actions are ctl writes; a monitor beyond
 * loopback without --key refuses to start, and with one every call without
 * the key answers 401 and changes nothing; the bad-input rows (a bad verb,
 * an unknown job, a 10 MB body, no key) each get a clear status and leave
 * the node unharmed.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Daemon, run, sh, startMount, stopAll, taskfsBin, until } from '../helpers/daemon.js';
import { fuseMissing } from '../helpers/fuse.js';
import { http, webUrl } from '../helpers/web.js';

const SECRET = 'the monitor key';
let dir: string;
let keyPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskfs-web-'));
  keyPath = join(dir, 'key');
  await writeFile(keyPath, `${SECRET}\n`);
  await chmod(keyPath, 0o600);
});

afterAll(async () => {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** A job made through the files, as a user would: `name`, `stop`, tasks, `close`. */
async function makeJob(mnt: string, name: string, tasks: string[], stopped = true): Promise<number> {
  const script = [
    'n=$(cat jobs/clone)',
    `echo "name '${name}'" > jobs/$n/ctl`,
    stopped ? 'echo stop > jobs/$n/ctl' : 'true',
    `printf '%s\\n' ${tasks.map((t) => `'${t}'`).join(' ')} > jobs/$n/tasks`,
    'echo close > jobs/$n/ctl',
    'echo $n',
  ].join(' && ');
  return Number((await run(script, { cwd: mnt })).trim());
}

describe('refused at start', () => {
  it('--http beyond loopback without --key: serve and mount both refuse, saying why', async () => {
    const serve = await sh(`${taskfsBin} serve --listen tcp!127.0.0.1!0 --http 0.0.0.0:0 --workdir ${dir}/w1`, {
      timeout: 20_000,
    });
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toMatch(/refusing to serve the web monitor on 0\.0\.0\.0:0 without --key/);
    const mount = await sh(`${taskfsBin} mount ${dir}/m1 --http 0.0.0.0:0 --workdir ${dir}/w2`, { timeout: 20_000 });
    expect(mount.code).not.toBe(0);
    expect(mount.stderr).toMatch(/without --key/);
  });

  it('a bad --http address', async () => {
    const r = await sh(`${taskfsBin} serve --listen tcp!127.0.0.1!0 --http nonsense --workdir ${dir}/w3`, {
      timeout: 20_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--http wants HOST:PORT or PORT, not "nonsense"/);
  });
});

describe.skipIf(fuseMissing)('the JSON interface on loopback', () => {
  let d: Daemon;
  let url: string;

  beforeAll(async () => {
    d = await startMount(['--slots', '4', '--http', '127.0.0.1:0']);
    url = webUrl(d);
    await run('cd $(cat clone) && echo res 2 > ctl && echo exec sleep 100 > ctl', { cwd: d.mnt });
  });

  it('reads are the files: the session and its two running leaves, the node and its capacity', async () => {
    const snap = await until(async () => {
      const s = (await http(`${url}api/snapshot`)).json();
      return s.sessions.length === 1 && s.sessions[0].leaves.every((l: { state: string }) => l.state === 'Execute')
        ? s
        : undefined;
    });
    expect(snap.sessions[0].leaves).toHaveLength(2);
    expect(snap.sessions[0].leaves[0]).toMatchObject({ state: 'Execute', cmd: 'sleep' });
    expect(snap.machine).toMatchObject({ state: 'Up', slots: 4, capacity: [{ count: 4 }] });
    const machines = (await http(`${url}api/machines`)).json();
    expect(machines.machine.name).toBe(snap.machine.name);
  });

  it('newJobs, getJobs, controlJob: a job made, started and ended through the API', async () => {
    const made = await http(`${url}api/jobs`, {
      json: { name: 'via api', priority: 'high', stopped: true, tasks: ['true', "sh -c 'exit 3'", 'echo hi'] },
    });
    expect(made.status).toBe(201);
    const { id } = made.json();
    expect((await run(`cat jobs/${id}/tasks`, { cwd: d.mnt })).split('\n')).toContain("1 sh -c 'exit 3'");
    const listed = (await http(`${url}api/jobs`)).json().jobs.find((j: { id: number }) => j.id === id);
    expect(listed).toMatchObject({ name: 'via api', state: 'Stopped', priority: 10, queued: 3 });
    expect((await http(`${url}api/jobs/${id}`, { json: { verb: 'start' } })).status).toBe(200);
    const ended = await until(async () => {
      const j = (await http(`${url}api/jobs/${id}`)).json();
      return j.tasks.every((t: { state: string }) => t.state === 'Done' || t.state === 'Failed') ? j : undefined;
    });
    expect(ended.tasks.map((t: { state: string }) => t.state)).toEqual(['Done', 'Failed', 'Done']);
    expect(ended.tasks[1].status).toBe('exit: 3');
    expect(ended.settings).toMatchObject({ name: 'via api', close: '' });
  });

  it('a bad verb is 400 and an unknown job 404, each with the reason', async () => {
    const id = await makeJob(d.mnt, 'target', ['true']);
    const bad = await http(`${url}api/jobs/${id}`, { json: { verb: 'frobnicate' } });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/frobnicate/);
    const smuggled = await http(`${url}api/jobs/${id}`, { json: { verb: 'stop\nwipe' } });
    expect(smuggled.status).toBe(400);
    expect(smuggled.text).toMatch(/control characters/);
    const unknown = await http(`${url}api/jobs/9999`, { json: { verb: 'stop' } });
    expect(unknown.status).toBe(404);
    expect(unknown.text).toMatch(/no job 9999/);
    expect((await http(`${url}api/jobs/9999`)).status).toBe(404);
    expect((await http(`${url}api/machines/nobody`, { json: { verb: 'reboot' } })).status).toBe(400);
    expect((await http(`${url}api/machines/%E0`, { json: { verb: 'delete' } })).text).toMatch(/bad URL escape/);
    expect((await http(`${url}${'x'.repeat(20_000)}`)).status).toBe(431);
    const noWorker = await http(`${url}api/machines/nobody`, { json: { verb: 'delete' } });
    expect(noWorker.status).toBe(404);
    expect(noWorker.text).toMatch(/delnode: no worker nobody/);
    expect((await http(`${url}api/jobs`, { json: { tasks: [] } })).text).toMatch(/no tasks/);
    // The job is as it was: still there, still stopped.
    expect(await run(`cat jobs/status`, { cwd: d.mnt })).toMatch(new RegExp(`^${id} Stopped .* target$`, 'm'));
  });

  it('a 10 MB body is 413 and changes nothing', async () => {
    const before = await run('cat jobs/status', { cwd: d.mnt });
    const huge = JSON.stringify({ tasks: ['x'.repeat(10 * 1024 * 1024)] });
    const r = await http(`${url}api/jobs`, { body: huge, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/request body over 1048576 bytes/);
    expect(await run('cat jobs/status', { cwd: d.mnt })).toBe(before);
  });

  it('refuses what a page elsewhere could send: another Host, another Origin, a form body', async () => {
    const rebound = await http(`${url}api/snapshot`, { headers: { Host: 'evil.example:80' } });
    expect(rebound.status).toBe(403);
    const cross = await http(`${url}api/jobs`, {
      json: { tasks: ['true'] },
      headers: { Origin: 'http://evil.example' },
    });
    expect(cross.status).toBe(403);
    const form = await http(`${url}api/jobs`, {
      body: 'tasks=true',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(400);
    expect(form.text).toMatch(/JSON body/);
    expect((await http(`${url}api/nothing`)).status).toBe(404);
    expect((await http(`${url}api/jobs`, { method: 'DELETE' })).status).toBe(405);
  });

  it('the node is unharmed: its leaves still run and the page still answers', async () => {
    const snap = (await http(`${url}api/snapshot`)).json();
    expect(snap.sessions[0].leaves.map((l: { state: string }) => l.state)).toEqual(['Execute', 'Execute']);
    expect((await http(url)).status).toBe(200);
  });
});

describe.skipIf(fuseMissing)('with --key', () => {
  let d: Daemon;
  let url: string;

  beforeAll(async () => {
    d = await startMount(['--slots', '2', '--key', keyPath, '--http', '0.0.0.0:0']);
    url = webUrl(d);
  });

  it('without the key: the page asks for it, the API answers 401 and changes nothing', async () => {
    const page = await http(url);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/name="key"/);
    const before = await run('ls; cat jobs/status', { cwd: d.mnt });
    for (const [path, json] of [
      ['api/snapshot', undefined],
      ['api/jobs', undefined],
      ['api/events', undefined],
      ['api/jobs', { tasks: ['touch should-not-exist'] }],
      ['api/jobs/0', { verb: 'cancel' }],
      ['api/machines/x', { verb: 'delete' }],
    ] as const) {
      const r = await http(url + path, json === undefined ? {} : { json });
      expect(r.status, path).toBe(401);
      expect(r.text).toMatch(/key required/);
    }
    expect(await run('ls; cat jobs/status', { cwd: d.mnt })).toBe(before);
  });

  it('a wrong key is refused; the right one sets an HttpOnly cookie (not the key) that opens the API', async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const wrong = await http(`${url}login`, { body: 'key=guess', headers: form });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const right = await http(`${url}login`, { body: `key=${encodeURIComponent(SECRET)}`, headers: form });
    expect(right.status).toBe(303);
    const cookie = String(right.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(encodeURIComponent(SECRET).slice(0, 8));
    const token = cookie.split(';')[0]!;
    const snap = await http(`${url}api/snapshot`, { headers: { Cookie: token } });
    expect(snap.status).toBe(200);
    expect(snap.json().machine.slots).toBe(2);
    expect((await http(`${url}api/snapshot`, { headers: { Cookie: 'taskfs_web=' + '0'.repeat(64) } })).status).toBe(
      401,
    );
  });
});
