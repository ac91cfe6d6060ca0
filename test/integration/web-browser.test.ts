/**
 * The web monitor in a real headless Chromium (README "Web monitor"): the
 * page shows a session's two running leaves and a stopped job by name;
 * clicking start makes the job's tasks run and the page shows them done
 * without a reload; the plots draw. The test keeps its screenshot in
 * test-results/screens/web-monitor.png, the README's picture.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, launchChromium } from '../helpers/browser.js';
import { type Daemon, run, startMount, startServe, stopAll } from '../helpers/daemon.js';
import { fuseMissing } from '../helpers/fuse.js';
import { screenPath } from '../helpers/screens.js';
import { http, webUrl } from '../helpers/web.js';

let browser: TestBrowser | undefined;
let root: Daemon;
let page: Page;

/** Pixels of `rgb` (give or take antialiasing) on the canvas of plot `kind`. */
function pixelsOf(kind: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ([kind, [r, g, b]]) => {
      const canvas = document.querySelector(`[data-plot=${kind}] canvas`) as HTMLCanvasElement | null;
      if (!canvas) return 0;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4)
        if (
          Math.abs(px[i]! - r) < 40 &&
          Math.abs(px[i + 1]! - g) < 40 &&
          Math.abs(px[i + 2]! - b) < 40 &&
          px[i + 3]! > 200
        )
          n++;
      return n;
    },
    [kind, rgb] as const,
  );
}

/** A job through the files, as a user makes one. */
async function makeJob(name: string, tasks: string, verbs: string[]): Promise<number> {
  const n = Number((await run('cat jobs/clone', { cwd: root.mnt })).trim());
  await run(`echo "name '${name}'" > jobs/${n}/ctl`, { cwd: root.mnt });
  for (const v of verbs) await run(`echo ${v} > jobs/${n}/ctl`, { cwd: root.mnt });
  await run(`${tasks} > jobs/${n}/tasks && echo close > jobs/${n}/ctl`, { cwd: root.mnt });
  return n;
}

describe.skipIf(fuseMissing)('the web monitor in Chromium', () => {
  beforeAll(async () => {
    // A root with two child nodes, so the tree of machines has branches.
    const a = await startServe(['--slots', '2', '--name', 'render1']);
    const b = await startServe(['--slots', '2', '--name', 'render2']);
    root = await startMount(['--name', 'head', '--remote', a.addr, '--remote', b.addr, '--http', '127.0.0.1:0']);
    browser = await launchChromium();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await stopAll();
  });

  it('shows two running leaves and a stopped job by name', async () => {
    await run('cd $(cat clone) && echo res 2 > ctl && echo exec sleep 100 > ctl', { cwd: root.mnt });
    const job = await makeJob('render frames', "for i in $(seq 1 12); do echo 'sleep 0.3'; done", ['stop']);
    await page.goto(webUrl(root));
    await page.locator('[data-session] .leaf[data-state=Execute]').nth(1).waitFor();
    expect(await page.locator('[data-session] .leaf[data-state=Execute]').count()).toBe(2);
    const row = page.locator(`tr[data-job="${job}"]`);
    await expect.poll(() => row.textContent()).toMatch(/render frames/);
    await expect.poll(() => row.locator('.badge').textContent()).toBe('Stopped');
    expect(await page.locator('[data-machine]').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^head/), expect.stringMatching(/render1/)]),
    );

    // Start it: the tasks run and the page shows them done, on the same page (no reload).
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    await row.getByRole('button', { name: 'start' }).click();
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 30_000 }).toBe('Complete');
    expect(await row.locator('.meter').textContent()).toMatch(/12 \/ 12/);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    // Its tasks, one by one, from jobs/N/status.
    await row.getByRole('button', { name: 'render frames' }).click();
    const tasks = page.locator(`tr[data-tasks-of="${job}"] [data-task]`);
    await expect.poll(() => tasks.count()).toBe(12);
    expect(new Set(await tasks.evaluateAll((els) => els.map((e) => e.className)))).toEqual(new Set(['leaf s-Done']));
    await row.getByRole('button', { name: 'render frames' }).click();
    expect((await http(`${webUrl(root)}api/jobs`)).json().jobs.find((j: { id: number }) => j.id === job)).toMatchObject(
      {
        state: 'Complete',
        done: 12,
      },
    );
  });

  it('the plots draw: leaves running, and tasks finished per second', async () => {
    await expect.poll(() => pixelsOf('load', [39, 163, 90]), { timeout: 10_000 }).toBeGreaterThan(20);
    await expect.poll(() => pixelsOf('rate', [138, 92, 199]), { timeout: 10_000 }).toBeGreaterThan(20);
  });

  it('saves the screenshot for the README', async () => {
    // Something in every state for the picture: a long job under way, one with failures.
    await makeJob('nightly backup', "for i in $(seq 1 40); do echo 'sleep 1'; done", ['priority low']);
    await makeJob('check inputs', "printf '%s\\n' true true 'sh -c \"exit 1\"' true 'sh -c \"exit 2\"' true", []);
    // Closed: no more tasks will come, some are left to run.
    await expect
      .poll(async () => (await page.locator('tr[data-job] .badge').allTextContents()).join(' '), { timeout: 30_000 })
      .toMatch(/Complete Closed Complete/);
    await expect.poll(() => page.locator('tr[data-job] .meter').nth(1).textContent()).toMatch(/^([1-9]\d*) \/ 40/);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: screenPath('web-monitor.png'), fullPage: true });
  });

  it('with --key, the page asks for the key and then shows the node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskfs-webkey-'));
    try {
      await writeFile(join(dir, 'key'), 'browser key\n', { mode: 0o600 });
      const keyed = await startMount(['--name', 'keyed', '--key', join(dir, 'key'), '--http', '127.0.0.1:0']);
      const tab = await browser!.context.newPage();
      await tab.goto(webUrl(keyed));
      await tab.locator('input[name=key]').fill('not it');
      await tab.locator('button[type=submit]').click();
      await tab.getByText('That is not the key.').waitFor();
      await tab.locator('input[name=key]').fill('browser key');
      await tab.locator('button[type=submit]').click();
      await expect.poll(() => tab.locator('header .node').textContent()).toBe('keyed');
      await tab.locator('.live.up').waitFor();
      await tab.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the new-job form makes a job that runs', async () => {
    await page.locator('form.newjob textarea').fill("echo one\nsh -c 'echo two'");
    await page.locator('form.newjob input[name=name]').fill('from the form');
    await page.locator('form.newjob button[type=submit]').click();
    const row = page.locator('tr[data-job]', { hasText: 'from the form' });
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 30_000 }).toBe('Complete');
    expect(await row.locator('.meter').textContent()).toMatch(/2 \/ 2/);
  });
});
