#!/usr/bin/env node
// The import-layer check: every folder of src/ sits in one layer, and a file
// may import its own folder or a folder of a LOWER layer, never one beside
// or above it (README "Layout"). Exits 1 and names each import that breaks
// the order.
//   node scripts/check-layers.mjs [SRC_DIR]     (default: src/ of this repository)
//   node scripts/check-layers.mjs --layers      (the order, lowest first, a layer a line)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layers, lowest first; folders on one line are peers and do not import
 * each other (what two peers share belongs lower down; they meet in cli/).
 * The README's Layout section shows this same list.
 */
export const LAYERS = [['ns'], ['fuse', 'ninep', 'exec'], ['nodes'], ['taskfs'], ['jobs', 'transport', 'web'], ['cli']];

const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank])));

/** Every `from '...'`, `import '...'` and `import('...')` specifier in a file's text. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g;

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(name) ? [path] : [];
  });
}

/** The src/ folder a path is in ('' for src/ itself, undefined outside). */
function folderOf(src, path) {
  const rel = relative(src, path);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : '';
}

/** Each import in `src` that points up or sideways, and each folder that is in no layer. */
export function checkLayers(src) {
  const problems = [];
  for (const file of sourceFiles(src)) {
    const from = folderOf(src, file);
    const at = relative(dirname(src), file);
    if (!rankOf.has(from)) {
      problems.push(`${at}: src/${from} is in no layer (add it to LAYERS in scripts/check-layers.mjs)`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(SPECIFIER)) {
      if (!spec.startsWith('.')) continue; // node: and packages
      const to = folderOf(src, resolve(dirname(file), spec));
      if (to === undefined || to === from) continue;
      if (!rankOf.has(to) || rankOf.get(to) >= rankOf.get(from)) {
        problems.push(`${at}: imports ${spec}: ${from}/ may not import ${to}/ (${describe(from, to)})`);
      }
    }
  }
  return problems;
}

function describe(from, to) {
  if (!rankOf.has(to)) return `${to}/ is in no layer`;
  return rankOf.get(to) === rankOf.get(from) ? 'peers of one layer' : `${to}/ is a higher layer`;
}

if (process.argv[2] === '--layers') {
  for (const folders of LAYERS) console.log(folders.join(' '));
} else if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const src = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../src'));
  const problems = checkLayers(src);
  for (const p of problems) console.error(p);
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} import(s) against the layer order`);
    process.exit(1);
  }
}
