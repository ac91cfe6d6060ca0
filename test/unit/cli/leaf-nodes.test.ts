/** A node's children as its `ns` file lists them (src/cli/leaf-nodes.ts). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { childNames } from '../../../src/cli/leaf-nodes.js';

describe('childNames', () => {
  it('mount lines in order; children that are down (# comments) and a missing ns give none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskfs-ns-'));
    try {
      await writeFile(join(dir, 'ns'), 'mount tcp!h!1 b\n# down a connection refused\nmount tcp!h!2 a\n');
      expect(await childNames(dir)).toEqual(['b', 'a']);
      expect(await childNames(join(dir, 'none'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
