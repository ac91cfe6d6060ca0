/**
 * fuse-count.cjs: count the FUSE ops a daemon serves, and the 9P messages it
 * sends, without touching its source. Preload it (`node --require
 * bench/fuse-count.cjs dist/bin/main.js mount ...`):
 *
 * - it replaces fuse-native's export with a subclass that wraps every op
 *   handler, counting calls and the time from call to reply, per op and
 *   file name (and ctl verb: "write ctl: exec");
 * - it counts writes on TCP sockets ("9p tcp write": one per 9P message the
 *   taskfs mux sends; T-messages in a parent, R-messages in a child).
 *
 * On exit it writes {op: {calls, totalMs, maxMs, bytes?}} as JSON to
 * $BENCH_FUSE_COUNT_FILE; SIGUSR2 writes the counts so far to FILE.0, FILE.1
 * ... and resets them, so the benchmark can charge them to one phase.
 */
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { createRequire } = require('node:module');

const out = process.env.BENCH_FUSE_COUNT_FILE;

const NINEP = {};
for (const [i, name] of [
  'version',
  'auth',
  'attach',
  'error',
  'flush',
  'walk',
  'open',
  'create',
  'read',
  'write',
  'clunk',
  'remove',
  'stat',
  'wstat',
].entries()) {
  NINEP[100 + 2 * i] = `T${name}`;
  NINEP[101 + 2 * i] = `R${name}`;
}

if (out) {
  let counts = Object.create(null);
  let phase = 0;
  const entry = (name) => (counts[name] ??= { calls: 0, totalMs: 0, maxMs: 0 });

  // Resolve fuse-native as the daemon will: from its main script.
  const req = createRequire(process.argv[1] ? path.resolve(process.argv[1]) : path.join(process.cwd(), 'x.js'));
  let resolved;
  try {
    resolved = req.resolve('fuse-native');
  } catch {
    resolved = undefined;
  }
  if (resolved) {
    const Fuse = req('fuse-native');
    // One counter per op and file name ("write ctl: exec", "read wait"), so a
    // launch can be split into its steps; numbers in names become N.
    const label = (name, args) => {
      if (typeof args[0] !== 'string') return name;
      const base = args[0].split('/').pop().replace(/\d+/g, 'N') || '/';
      if (name !== 'write' || !Buffer.isBuffer(args[2])) return `${name} ${base}`;
      const word = args[2].toString('latin1', 0, Math.min(args[3] ?? 16, 16)).split(/\s/)[0];
      return `${name} ${base}: ${word}`;
    };
    const wrap = (name, fn) =>
      function (...args) {
        const e = entry(label(name, args));
        e.calls++;
        const last = args.length - 1;
        if (typeof args[last] === 'function') {
          const cb = args[last];
          const t0 = process.hrtime.bigint();
          args[last] = (...r) => {
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            e.totalMs += ms;
            if (ms > e.maxMs) e.maxMs = ms;
            return cb(...r);
          };
        }
        return fn.apply(this, args);
      };
    class CountingFuse extends Fuse {
      constructor(mnt, ops, opts) {
        super(mnt, ops, opts);
        const wrapped = {};
        for (const [name, fn] of Object.entries(ops ?? {}))
          wrapped[name] = typeof fn === 'function' ? wrap(name, fn) : fn;
        this.ops = wrapped;
      }
    }
    require.cache[resolved].exports = CountingFuse;
  }

  // Whether a socket is TCP, asked once per socket (remoteAddress costs a getpeername).
  const isTcp = Symbol('bench.isTcp');
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (chunk, ...rest) {
    if (this[isTcp] === undefined && this._handle) this[isTcp] = this._handle.constructor?.name === 'TCP';
    if (this[isTcp]) {
      const e = entry('9p tcp write');
      e.calls++;
      e.bytes = (e.bytes ?? 0) + (chunk?.length ?? 0);
      // One whole 9P message per write: size[4] type[1] tag[2] ...
      if (Buffer.isBuffer(chunk) && chunk.length >= 7 && chunk.readUInt32LE(0) === chunk.length) {
        const t = entry(`9p ${NINEP[chunk[4]] ?? `type ${chunk[4]}`}`);
        t.calls++;
        t.bytes = (t.bytes ?? 0) + chunk.length;
      }
    }
    return write.call(this, chunk, ...rest);
  };

  const dump = (file) => {
    try {
      fs.writeFileSync(file, JSON.stringify(counts, null, 1));
    } catch {
      /* the benchmark reports a missing file */
    }
  };
  process.on('SIGUSR2', () => {
    dump(`${out}.${phase++}`);
    counts = Object.create(null);
  });
  process.on('exit', () => dump(out));
}
