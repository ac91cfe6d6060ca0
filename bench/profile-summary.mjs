/**
 * profile-summary.mjs: the top functions of a V8 .cpuprofile (node
 * --cpu-prof), by self time and by total (inclusive) time.
 *
 *   node bench/profile-summary.mjs FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function keyOf(frame) {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  let url = frame.url.replace(/^file:\/\//, '');
  if (url.startsWith('/')) url = relative(root, url);
  return `${name} ${url}:${frame.lineNumber + 1}`;
}

/** { totalMs, rows: { self: [[key, ms]], total: [[key, ms]] } } */
export function summarize(file, top = 20) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map();
  const parent = new Map();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map();
  const total = new Map();
  let sum = 0;
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < prof.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; charge it to the sample after it.
    const ms = (deltas[i + 1] ?? 0) / 1000;
    if (ms <= 0) continue;
    sum += ms;
    const id = prof.samples[i];
    const leaf = byId.get(id);
    const k = keyOf(leaf.callFrame);
    self.set(k, (self.get(k) ?? 0) + ms);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = keyOf(byId.get(cur).callFrame);
      if (seen.has(key) || key === '(root)') continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + ms);
    }
  }
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalMs: sum, self: sorted(self), total: sorted(total) };
}

export function formatSummary(s, title) {
  const pct = (ms) => `${((100 * ms) / (s.totalMs || 1)).toFixed(1)}%`;
  const lines = [`${title}: ${(s.totalMs / 1000).toFixed(1)} s sampled`, '  self time:'];
  for (const [k, ms] of s.self) lines.push(`    ${ms.toFixed(0).padStart(7)} ms ${pct(ms).padStart(6)}  ${k}`);
  lines.push('  total time:');
  for (const [k, ms] of s.total) lines.push(`    ${ms.toFixed(0).padStart(7)} ms ${pct(ms).padStart(6)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  console.log(formatSummary(summarize(file, Number(process.argv[3] ?? 25)), file));
}
