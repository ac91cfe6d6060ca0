/**
 * The import-layer check (scripts/check-layers.mjs, README "Layout"): the
 * tree passes it, and a tree with a back-import, an import between peers or
 * a folder in no layer fails it, naming the import.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repo } from '../helpers/daemon.js';

const script = join(repo, 'scripts/check-layers.mjs');

function check(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tmp: string | undefined;
afterEach(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

/** A src/ tree of the given files (path -> text) in a temp dir. */
function fixture(files: Record<string, string>): string {
  tmp = mkdtempSync(join(tmpdir(), 'taskfs-layers-'));
  const src = join(tmp, 'src');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  return src;
}

const sound = {
  'ns/types.ts': 'export interface Node {}\n',
  'nodes/child.ts': "import type { Node } from '../ns/types.js';\nimport { x } from './near.js';\n",
  'nodes/near.ts': 'export const x = 1;\n',
  'taskfs/session.ts': "import { x } from '../nodes/near.js';\nimport { readFile } from 'node:fs';\n",
  'cli/main.ts': "import '../taskfs/session.js';\nconst later = import('../fuse/mount.js');\n",
  'fuse/mount.ts': "export * from '../ns/types.js';\n",
};

describe('check-layers', () => {
  it('passes this repository', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('passes a tree whose imports all point down', () => {
    expect(check(fixture(sound)).code).toBe(0);
  });

  it('fails on a deliberate back-import, naming it', () => {
    const src = fixture({ ...sound, 'nodes/lost.ts': "import { quote } from '../taskfs/session.js';\n" });
    const r = check(src);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'src/nodes/lost.ts: imports ../taskfs/session.js: nodes/ may not import taskfs/ (taskfs/ is a higher layer)',
    );
    expect(r.stderr).toContain('1 import(s) against the layer order');
  });

  it('fails on an import between peers, a dynamic import upwards and an unlisted folder', () => {
    const r = check(
      fixture({
        ...sound,
        'fuse/mount.ts': "import { connect } from '../ninep/client.js';\n",
        'ns/walk.ts': "const m = await import('../cli/main.js');\n",
        'misc/util.ts': 'export {};\n',
      }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('fuse/ may not import ninep/ (peers of one layer)');
    expect(r.stderr).toContain('ns/ may not import cli/ (cli/ is a higher layer)');
    expect(r.stderr).toContain('src/misc is in no layer');
  });

  it('is the order the README shows', () => {
    const order = check('--layers').stdout;
    expect(order.split('\n')[0]).toBe('ns');
    const layout = readFileSync(join(repo, 'README.md'), 'utf8').split('\n## Layout')[1]!;
    expect(layout).toContain(order);
  });
});
