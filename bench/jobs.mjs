/**
 * The jobs part of the bench (`--only jobs`, README "Jobs: measured"):
 *   1. 2,000 `true` tasks on a node's local slots against `xargs -P SLOTS`
 *      on the same number of slots (ratio; goal <= 1.5);
 *   2. 400 tasks of `sleep 0.1` over four child nodes of 10 slots each, the
 *      root running nothing itself (time; goal <= 1.25 s, the ideal is 1.0 s),
 *      beside the same 400 under `xargs -P 40` in the same run (what the
 *      machine's load makes of the ideal);
 *   3. 10,000 tasks queued at once (daemon peak RSS; goal < 150 MB).
 * Helpers come from bench.mjs so the daemons are tracked and cleaned up.
 */
import { join } from 'node:path';

const SLOTS = 4;

/** Runs a job of `tasks` lines in the mount `mnt`: ms from the first write to the wait log's end. */
function jobScript(file) {
  return `set -e; n=$(cat jobs/clone); cat ${file} > jobs/$n/tasks; echo close > jobs/$n/ctl; cat jobs/$n/wait | wc -l`;
}

export async function jobsSection(h) {
  const { RUN, startTaskfs, timeSh, peakRss, target, results, log, median, reps, writeFileSync } = h;
  const trues = join(RUN, 'tasks-true');
  writeFileSync(trues, 'true\n'.repeat(2000));
  const sleeps = join(RUN, 'tasks-sleep');
  writeFileSync(sleeps, 'sleep 0.1\n'.repeat(400));
  // xargs runs its own command with each line's words as arguments: the
  // same 400 `sleep 0.1` are `sleep` over 400 lines of `0.1` (a bare `xargs`
  // of the task lines would run `echo sleep 0.1`).
  const tenths = join(RUN, 'tasks-sleep-args');
  writeFileSync(tenths, '0.1\n'.repeat(400));
  const many = join(RUN, 'tasks-many');
  writeFileSync(many, 'true\n'.repeat(10_000));

  // 1. local slots against xargs -P
  const mnt = join(RUN, 'mnt-jobs-local');
  const local = await startTaskfs('jobs-local', 'mount', ['--slots', String(SLOTS)], { mountpoint: mnt });
  const t = { taskfs: [], xargs: [] };
  for (let i = 0; i < reps; i++) {
    const r = await timeSh(jobScript(trues), { cwd: mnt });
    if (r.out.trim() !== '2000') throw new Error(`jobs: wait had ${r.out.trim()} lines, not 2000`);
    t.taskfs.push(r.ms);
    t.xargs.push((await timeSh(`xargs -P ${SLOTS} -n 1 sh -c 'true' < ${trues}`)).ms);
  }
  const ratio = median(t.taskfs) / median(t.xargs);
  log(
    `jobs: 2,000 true on ${SLOTS} slots: ${median(t.taskfs).toFixed(0)} ms, xargs -P ${SLOTS} ${median(t.xargs).toFixed(0)} ms`,
  );
  results.notes.push(
    `jobs: 2,000 \`true\` tasks on ${SLOTS} local slots took ${median(t.taskfs).toFixed(0)} ms (median of ${reps}); \`xargs -P ${SLOTS} -n 1 sh -c true\` ${median(t.xargs).toFixed(0)} ms.`,
  );
  target(`jobs: 2,000 true on the local slots / xargs -P ${SLOTS} <= 1.5`, ratio, ratio <= 1.5);

  // 3. 10,000 tasks queued at once, on the same node: its peak RSS
  const r3 = await timeSh(jobScript(many), { cwd: mnt });
  const rss = peakRss(local.pid);
  results.notes.push(
    `jobs: 10,000 tasks queued at once ran in ${(r3.ms / 1000).toFixed(1)} s; daemon peak RSS ${rss.toFixed(1)} MB.`,
  );
  target('jobs: 10,000 tasks queued at once, daemon peak RSS < 150 MB', rss, rss < 150, `${rss.toFixed(1)} MB`);

  // 2. four children of 10 slots, sleep 0.1 x 400
  const children = await Promise.all(
    [0, 1, 2, 3].map((i) => startTaskfs(`jobs-child${i}`, 'serve', ['--listen', 'tcp!127.0.0.1!0', '--slots', '10'])),
  );
  const rmnt = join(RUN, 'mnt-jobs-tree');
  await startTaskfs('jobs-root', 'mount', ['--slots', '0', ...children.flatMap((c) => ['--remote', c.match[1]])], {
    mountpoint: rmnt,
  });
  await new Promise((r) => setTimeout(r, 1500)); // the children's capacity is read
  // Interleaved with the same 400 sleeps under `xargs -P 40`: what this
  // machine's load makes of the ideal 1.0 s in the same sitting.
  const tt = [];
  const tx = [];
  for (let i = 0; i < reps; i++) {
    const r = await timeSh(jobScript(sleeps), { cwd: rmnt });
    if (r.out.trim() !== '400') throw new Error(`jobs: wait had ${r.out.trim()} lines, not 400`);
    tt.push(r.ms);
    tx.push((await timeSh(`xargs -P 40 -n 1 sleep < ${tenths}`)).ms);
  }
  const s = median(tt) / 1000;
  const x = median(tx) / 1000;
  log(`jobs: 400 sleep 0.1 over 4 x 10: ${s.toFixed(2)} s, xargs -P 40 ${x.toFixed(2)} s (ideal 1.0 s)`);
  results.notes.push(
    `jobs: 400 \`sleep 0.1\` over four children of 10 slots: ${s.toFixed(2)} s (median of ${reps}; ideal 1.0 s); the same under \`xargs -P 40 -n 1 sleep\` ${x.toFixed(2)} s, ratio ${(s / x).toFixed(2)}.`,
  );
  target(
    'jobs: 400 sleep 0.1 over 4 children x 10 slots <= 1.25 s',
    s,
    s <= 1.25,
    `${s.toFixed(2)} s (xargs -P 40: ${x.toFixed(2)} s, ratio ${(s / x).toFixed(2)})`,
  );
}
