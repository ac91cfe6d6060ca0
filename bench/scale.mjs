/**
 * Many children under one root (bench section `scale`, measured without a
 * target yet): K `serve --slots 4` children, K from 4 to 100, one root
 * `mount --remote` of all; `res 4K` + `exec true` + `wait` + `wipe`, and the
 * root's peak RSS. Plots launch time against K into bench/scale.png with
 * gnuplot. bench.mjs hands in its helpers (`b`).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SLOTS = 4;

async function launchOver(b, k) {
  // Started a few at a time: each is a node process that takes a moment of CPU to come up.
  const children = [];
  for (let i = 0; i < k; i += 10) {
    const batch = Array.from({ length: Math.min(10, k - i) }, (_, j) =>
      b.startTaskfs(`scale${k}-child${i + j}`, 'serve', ['--listen', 'tcp!127.0.0.1!0', '--slots', String(SLOTS)]),
    );
    children.push(...(await Promise.all(batch)));
  }
  const root = await b.startTaskfs(
    `scale${k}-root`,
    'mount',
    children.flatMap((c) => ['--remote', c.match[1]]),
    {
      mountpoint: `${b.RUN}/mnt-scale-${k}`,
    },
  );
  const n = k * SLOTS;
  const script =
    `set -e; n=$(cat clone); echo res ${n} > $n/ctl; echo exec true > $n/ctl; ` +
    `c=$(cat $n/wait | grep -c " ''$"); echo wipe > $n/ctl; echo $c`;
  try {
    const ok = Number((await b.timeSh(script, { cwd: root.mountpoint })).out.trim());
    if (ok !== n) throw new Error(`scale K=${k}: ${ok} of ${n} leaves ended well`);
    const t = [];
    for (let r = 0; r < b.cfg.scaleReps; r++) {
      await b.quiet();
      t.push((await b.timeSh(script, { cwd: root.mountpoint })).ms);
    }
    return { k, leaves: n, ms: b.median(t), rootMb: b.peakRss(root.pid), raw: t };
  } finally {
    await Promise.all([root, ...children].map((d) => b.stopChild(d.child, d.mountpoint)));
  }
}

export async function scaleSection(b) {
  const ks = b.opt.quick ? [4, 20] : [4, 10, 25, 50, 100];
  const rows = [];
  for (const k of ks) {
    const r = await launchOver(b, k);
    rows.push(r);
    b.log(
      `scale K=${k}: res ${r.leaves} + exec true + wait ${r.ms.toFixed(0)} ms, root peak RSS ${r.rootMb.toFixed(0)} MB`,
    );
  }
  b.results.scale = { rows, plot: plot(b, rows) };
}

/** bench/scale.png (bench-results/ for partial runs) from the rows, with gnuplot. */
function plot(b, rows) {
  const dir = b.full ? join(b.ROOT, 'bench') : b.RESULTS_DIR;
  const data = join(b.RUN, 'scale.dat');
  const png = join(dir, 'scale.png');
  writeFileSync(data, rows.map((r) => `${r.k} ${r.ms.toFixed(1)} ${r.rootMb.toFixed(1)}`).join('\n') + '\n');
  const script = [
    'set terminal png size 720,420 font ",10"',
    `set output '${png}'`,
    `set title 'Launch over K child nodes (${SLOTS} slots each): res 4K + exec true + wait'`,
    "set xlabel 'child nodes K'",
    "set ylabel 'launch ms'",
    "set y2label 'root peak RSS MB'",
    'set ytics nomirror',
    'set y2tics',
    'set grid',
    'set key left top',
    `plot '${data}' using 1:2 with linespoints lw 2 pt 7 title 'launch ms', '' using 1:3 axes x1y2 with linespoints lw 2 pt 5 title 'root RSS MB'`,
  ].join('\n');
  execFileSync('gnuplot', [], { input: script });
  return png;
}

export function scaleTable(scale, f) {
  if (!scale) return [];
  const L = ['## Many children under one root', ''];
  L.push(
    `K \`serve --slots ${SLOTS}\` children on loopback, one root \`mount --remote\` of all of them; one \`sh\` per run: \`res 4K\`, \`exec true\`, \`cat wait\`, \`wipe\`. No target yet: measured for the record. Plot: [scale.png](scale.png).`,
    '',
    '| K | leaves | launch ms | ms/leaf | root peak RSS MB |',
    '|---:|---:|---:|---:|---:|',
  );
  for (const r of scale.rows)
    L.push(`| ${r.k} | ${r.leaves} | ${f(r.ms, 0)} | ${f(r.ms / r.leaves, 2)} | ${f(r.rootMb, 0)} |`);
  L.push('');
  return L;
}
