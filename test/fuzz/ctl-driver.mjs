#!/usr/bin/env node
// Runs a ctl fuzz plan (made by ctl-fuse.fuzz.test.ts) against a taskfs
// FUSE mount, from outside the daemon: the serving process must never touch
// its own mount, and blocking reads here must not fill the test's libuv pool.
//
//   node ctl-driver.mjs PLAN.json   → one JSON report on stdout
//
// A plan is { mnt, deadline, lanes: [[op, ...], ...] }; lanes run
// concurrently, each with its own session slots. Ops:
//   { op: 'clone', slot }                       read clone: a new session for the slot
//   { op: 'hold', slot }                        open clone and keep it (writes go to its ctl)
//   { op: 'release', slot }                     close the held clone handle
//   { op: 'write', slot, file, data, append }   write data (base64) to N/file (slot -1: the node's files)
//   { op: 'holdwrite', slot, data }             write data on the held clone handle
//   { op: 'read', slot, file }                  read N/file whole (retrying EINTR)
//   { op: 'rmdir', slot }                       rmdir N
// At the end every session the plan made is wiped (echo wipe > N/ctl).
import { open, readFile, rmdir } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';

const plan = JSON.parse(await readFile(process.argv[2], 'utf8'));
const { mnt, deadline } = plan;
const report = {
  ops: 0,
  writes: 0,
  /** "op file: ERRNO" → count (OK for success) */
  outcomes: {},
  /** err text after writes that failed with EIO or an errno not expected of ctl text */
  errTexts: [],
  sessions: 0,
  wiped: 0,
  wipeFailures: [],
  timedOut: false,
};
const made = new Set();

function count(key) {
  report.outcomes[key] = (report.outcomes[key] ?? 0) + 1;
}

async function retryEintr(fn) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err.code !== 'EINTR' || i > 20) throw err;
    }
  }
}

async function readWhole(path) {
  return retryEintr(() => readFile(path));
}

async function writeOnce(path, data, flags) {
  const fh = await open(path, flags);
  try {
    await fh.write(data, 0, data.length, 0);
  } finally {
    await fh.close();
  }
}

/** Errnos ctl text is expected to fail with; after any other, err is kept for the report. */
const EXPECTED = new Set([
  'EINVAL',
  'ENOENT',
  'EBUSY',
  'ENOSPC',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'ENAMETOOLONG',
  'E2BIG',
]);

async function noteErr(key, n, write) {
  try {
    await write();
  } catch (err) {
    if (report.errTexts.length < 50 && !EXPECTED.has(err.code)) {
      const text = await readWhole(`${mnt}/${n}/err`).then(
        (b) => b.toString(),
        (e) => `(err unreadable: ${e.code})`,
      );
      report.errTexts.push(`${key}: ${err.code}: ${text.slice(0, 300)}`);
    }
    throw err;
  }
}

async function runLane(ops) {
  const slots = new Map(); // slot → session number
  const holds = new Map(); // slot → { fh, n }
  const sessionOf = async (slot) => {
    if (slot < 0) return undefined;
    if (holds.has(slot)) return holds.get(slot).n;
    if (!slots.has(slot)) {
      const n = (await readWhole(`${mnt}/clone`)).toString();
      slots.set(slot, n);
      made.add(n);
    }
    return slots.get(slot);
  };
  for (const o of ops) {
    if (Date.now() > deadline) {
      report.timedOut = true;
      break;
    }
    report.ops++;
    let key = o.op;
    try {
      switch (o.op) {
        case 'clone': {
          const n = (await readWhole(`${mnt}/clone`)).toString();
          slots.set(o.slot, n);
          made.add(n);
          break;
        }
        case 'hold': {
          const old = holds.get(o.slot);
          if (old) await old.fh.close();
          const fh = await open(`${mnt}/clone`, fsc.O_RDWR);
          const buf = Buffer.alloc(32);
          const { bytesRead } = await retryEintr(() => fh.read(buf, 0, 32, 0));
          const n = buf.subarray(0, bytesRead).toString();
          holds.set(o.slot, { fh, n });
          made.add(n);
          break;
        }
        case 'release': {
          const h = holds.get(o.slot);
          holds.delete(o.slot);
          if (h) await h.fh.close();
          break;
        }
        case 'holdwrite': {
          report.writes++;
          key = 'holdwrite ctl';
          const h = holds.get(o.slot);
          const n = await sessionOf(o.slot);
          const data = Buffer.from(o.data, 'base64');
          await noteErr(key, n, () =>
            h ? h.fh.write(data, 0, data.length, 0) : writeOnce(`${mnt}/${n}/ctl`, data, fsc.O_WRONLY),
          );
          break;
        }
        case 'write': {
          report.writes++;
          key = `write ${o.slot < 0 ? 'node/' : ''}${o.file}`;
          const n = await sessionOf(o.slot);
          const path = n === undefined ? `${mnt}/${o.file}` : `${mnt}/${n}/${o.file}`;
          const data = Buffer.from(o.data, 'base64');
          const write = () => writeOnce(path, data, fsc.O_WRONLY | (o.append ? fsc.O_APPEND : fsc.O_TRUNC));
          // err holds the reason of the last failed ctl, args, env or ns write.
          if (n !== undefined && ['ctl', 'args', 'env', 'ns'].includes(o.file)) await noteErr(key, n, write);
          else await write();
          break;
        }
        case 'read': {
          key = `read ${o.file}`;
          const n = await sessionOf(o.slot);
          await readWhole(n === undefined ? `${mnt}/${o.file}` : `${mnt}/${n}/${o.file}`);
          break;
        }
        case 'rmdir': {
          const n = await sessionOf(o.slot);
          slots.delete(o.slot);
          await rmdir(`${mnt}/${n}`);
          break;
        }
        default:
          throw new Error(`unknown op ${o.op}`);
      }
      count(`${key}: OK`);
    } catch (err) {
      count(`${key}: ${err.code ?? err.message}`);
    }
  }
  for (const h of holds.values()) await h.fh.close().catch(() => undefined);
}

await Promise.all(plan.lanes.map(runLane));

// Clean up every session made here.
report.sessions = made.size;
for (const n of made) {
  try {
    await writeOnce(`${mnt}/${n}/ctl`, Buffer.from('wipe\n'), fsc.O_WRONLY);
    report.wiped++;
  } catch (err) {
    // ENOENT: already wiped or removed by the plan itself. EBUSY: the number
    // was handed out again, to a leaf some session holds; it goes with that session.
    if (err.code !== 'ENOENT' && err.code !== 'EBUSY') report.wipeFailures.push(`${n}: ${err.code ?? err.message}`);
  }
}
process.stdout.write(JSON.stringify(report) + '\n');
