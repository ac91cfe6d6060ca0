/**
 * Streams across machines (bench section `stream`): output of a leaf on a
 * child node read at the root mount, the same from a grandchild, and stdin
 * fanned out to leaves on two children. Baselines in the same run: a pipe,
 * and `tee` to four pipes (what pdsh-style fan-out of input does).
 * bench.mjs hands in its helpers (`b`): startTaskfs, stopChild, timeSh,
 * quiet, median, target, log, results, cfg, MiB.
 */

const stamp = 'date +%s%N';
const secs = (out) => {
  const [t0, t1] = out.trim().split(/\s+/).map(BigInt);
  return Number(t1 - t0) / 1e9;
};

/**
 * A chain: a `serve --slots 1` leaf node, `levels - 1` serve nodes above it
 * (no slots of their own), a root mount on top.
 */
async function startChain(b, levels, slots = 1) {
  const daemons = [];
  let below = await b.startTaskfs(`stream${levels}-leaf`, 'serve', [
    '--listen',
    'tcp!127.0.0.1!0',
    '--slots',
    String(slots),
  ]);
  daemons.push(below);
  for (let i = 1; i < levels; i++) {
    below = await b.startTaskfs(`stream${levels}-mid${i}`, 'serve', [
      '--listen',
      'tcp!127.0.0.1!0',
      '--slots',
      '0',
      '--remote',
      below.match[1],
    ]);
    daemons.push(below);
  }
  const root = await b.startTaskfs(`stream${levels}-root`, 'mount', ['--remote', below.match[1]], {
    mountpoint: `${b.RUN}/mnt-stream-${levels}`,
  });
  return [root, ...daemons];
}

async function outputCase(b, levels, size) {
  const daemons = await startChain(b, levels);
  const [root] = daemons;
  // A share of one is run by the child it goes to (README "How shares are
  // decided"): for a leaf two levels down, reserve in the middle node's own
  // tree, seen at the root as nodes/NAME/.
  const into = levels > 1 ? 'cd nodes/*/; ' : '';
  const script = (verify) =>
    `set -e; ${into}n=$(cat clone); echo res 1 > $n/ctl; t0=$(${stamp}); echo exec head -c ${size} /dev/zero > $n/ctl; ` +
    // Where the leaf ran: its directory in `status` is under the bottom node's workdir.
    (verify
      ? `b=$(cat $n/stdout | wc -c); w=$(grep -c stream${levels}-leaf $n/status || true); `
      : 'cat $n/stdout > /dev/null; ') +
    `t1=$(${stamp}); cat $n/wait > /dev/null; echo wipe > $n/ctl; echo $t0 $t1 \${b:-} \${w:-}`;
  const pipe = `set -e; t0=$(${stamp}); head -c ${size} /dev/zero | cat > /dev/null; t1=$(${stamp}); echo $t0 $t1`;
  try {
    const [, , got, onLeaf] = (await b.timeSh(script(true), { cwd: root.mountpoint })).out.trim().split(/\s+/);
    if (Number(got) !== size) throw new Error(`stream from ${levels} level(s) down: ${got} bytes, expected ${size}`);
    if (onLeaf !== '1') throw new Error(`stream from ${levels} level(s) down: the leaf did not run on the bottom node`);
    const t = { taskfs: [], pipe: [] };
    for (let r = 0; r < b.cfg.tpReps; r++) {
      await b.quiet();
      t.taskfs.push(secs((await b.timeSh(script(false), { cwd: root.mountpoint })).out));
      await b.quiet();
      t.pipe.push(secs((await b.timeSh(pipe)).out));
    }
    for (const d of daemons)
      b.results.memory.push({
        case: `stream ${levels} level(s)`,
        role: d === root ? 'root (mount)' : 'serve',
        name: d.name,
        mb: b.peakRss(d.pid),
      });
    return {
      levels,
      bytes: size,
      taskfs: size / 1e6 / b.median(t.taskfs),
      pipe: size / 1e6 / b.median(t.pipe),
      raw: t,
    };
  } finally {
    for (const d of daemons) await b.stopChild(d.child, d.mountpoint);
  }
}

/**
 * Writers of the stdin case: what a user pipes in writes 128 KiB at a time
 * (cat, cp, dd bs=128k: the target), `head -c` writes 4 KiB at a time, one
 * FUSE round trip each (recorded beside it).
 */
const stdinWriters = [
  { name: 'cat', label: 'cat FILE', bytesPerWrite: 128 * 1024, cmd: (b, size) => `cat ${b.RUN}/stdin-data-${size}` },
  {
    name: 'head -c',
    label: 'head -c SIZE /dev/zero',
    bytesPerWrite: 4096,
    cmd: (_b, size) => `head -c ${size} /dev/zero`,
  },
];

async function stdinCase(b, size) {
  await b.timeSh(`head -c ${size} /dev/zero > ${b.RUN}/stdin-data-${size}`);
  const children = await Promise.all(
    [0, 1].map((i) => b.startTaskfs(`stdin-child${i}`, 'serve', ['--listen', 'tcp!127.0.0.1!0', '--slots', '2'])),
  );
  const root = await b.startTaskfs(
    'stdin-root',
    'mount',
    children.flatMap((c) => ['--remote', c.match[1]]),
    {
      mountpoint: `${b.RUN}/mnt-stdin`,
    },
  );
  const daemons = [root, ...children];
  const script = (writer) =>
    `set -e; n=$(cat clone); echo res 4 > $n/ctl; echo exec wc -c > $n/ctl; t0=$(${stamp}); ` +
    `${writer} > $n/stdin; echo eof > $n/ctl; cat $n/wait > /dev/null; t1=$(${stamp}); ` +
    `c=$(cat $n/stdout | sort -u | tr '\\n' ' '); echo wipe > $n/ctl; echo $t0 $t1 $c`;
  const tee = (writer) =>
    `t0=$(${stamp}); ${writer} | tee >(wc -c > /dev/null) >(wc -c > /dev/null) >(wc -c > /dev/null) | wc -c > /dev/null; ` +
    `t1=$(${stamp}); echo $t0 $t1`;
  try {
    const cases = [];
    for (const w of stdinWriters) {
      const writer = w.cmd(b, size);
      const first = (await b.timeSh(script(writer), { cwd: root.mountpoint })).out.trim().split(/\s+/);
      if (first.length !== 3 || Number(first[2]) !== size)
        throw new Error(`stdin fan-out: leaves counted ${first.slice(2).join(' ')}, expected ${size} each`);
      const t = { taskfs: [], tee: [] };
      for (let r = 0; r < b.cfg.tpReps; r++) {
        await b.quiet();
        t.taskfs.push(secs((await b.timeSh(script(writer), { cwd: root.mountpoint })).out));
        await b.quiet();
        t.tee.push(secs((await b.timeSh(`exec bash -c '${tee(writer)}'`)).out));
      }
      cases.push({ ...w, writer, bytes: size, taskfs: b.median(t.taskfs), tee: b.median(t.tee), raw: t });
    }
    return cases;
  } finally {
    for (const d of daemons) await b.stopChild(d.child, d.mountpoint);
  }
}

export async function streamSection(b) {
  const size = b.opt.quick ? 128 * b.MiB : 512 * b.MiB;
  const rows = [];
  for (const levels of [1, 2]) {
    const r = await outputCase(b, levels, size);
    rows.push(r);
    b.log(`stream from ${levels} level(s) down: taskfs ${r.taskfs.toFixed(0)} MB/s, pipe ${r.pipe.toFixed(0)} MB/s`);
    const goal = levels === 1 ? 0.5 : 0.4;
    b.target(
      `stream ${size / b.MiB} MiB from a leaf ${levels === 1 ? 'on a child' : 'on a grandchild'}: taskfs/pipe >= ${goal}`,
      r.taskfs / r.pipe,
      r.taskfs / r.pipe >= goal,
    );
  }
  const stdinBytes = b.opt.quick ? 50e6 : 200e6;
  const s = await stdinCase(b, stdinBytes);
  for (const c of s) {
    b.log(
      `stdin fan-out ${stdinBytes / 1e6} MB to 4 leaves on 2 children, ${c.name} (${c.bytesPerWrite / 1024} KiB writes): taskfs ${c.taskfs.toFixed(2)} s, tee ${c.tee.toFixed(2)} s`,
    );
  }
  const target = s[0];
  b.target(
    `stdin fan-out to 4 leaves on 2 children, ${target.name}: tee time / taskfs time >= 0.5`,
    target.tee / target.taskfs,
    target.tee / target.taskfs >= 0.5,
  );
  b.results.stream = { rows, stdin: s };
}

/** The section's part of results.md. */
export function streamTable(stream, f) {
  if (!stream) return [];
  const L = ['## Streams across machines', ''];
  L.push(
    'A leaf on a child node (`serve --slots 1`, root `mount --remote`), or on a grandchild (one more `serve --slots 0` between, the session made in its tree), runs `head -c SIZE /dev/zero` while `cat stdout > /dev/null` reads it at the root mount, timed from the `exec` write to the end of `cat`; against `head -c SIZE /dev/zero | cat > /dev/null`. MB = 10^6 bytes.',
    '',
    '| from | bytes | taskfs MB/s | pipe MB/s | taskfs/pipe |',
    '|---|---:|---:|---:|---:|',
  );
  for (const r of stream.rows)
    L.push(
      `| ${r.levels === 1 ? 'child' : 'grandchild'} | ${r.bytes} | ${f(r.taskfs, 0)} | ${f(r.pipe, 0)} | ${f(r.taskfs / r.pipe, 2)} |`,
    );
  L.push(
    '',
    `Stdin fan-out: \`res 4\` over two \`serve --slots 2\` children, \`exec wc -c\`, then \`WRITER > stdin\`, \`eof\`, \`cat wait\`; against \`WRITER | tee\` to four \`wc -c\` (bash process substitution). The target is the first row: \`cat\` of a file writes 128 KiB at a time, as cat, cp and dd bs=128k do; \`head -c\` writes 4 KiB at a time, one FUSE round trip each.`,
    '',
    '| writer | bytes | taskfs s | tee s | tee/taskfs |',
    '|---|---:|---:|---:|---:|',
  );
  for (const s of stream.stdin)
    L.push(`| \`${s.label}\` | ${s.bytes} | ${f(s.taskfs, 2)} | ${f(s.tee, 2)} | ${f(s.tee / s.taskfs, 2)} |`);
  L.push('');
  return L;
}
