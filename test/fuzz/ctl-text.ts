/**
 * Random text for taskfs's control files (session ctl, node ctl, env, args,
 * ns, stdin), shared by both fuzzers. Valid verbs get random arguments,
 * quoting edge cases, NULs and invalid UTF-8; but whatever may run is from
 * a whitelist (true, echo, sleep 0.01, sh -c 'exit N') carrying `marker` in
 * its command line, so leftovers can be found with pidsMatching(marker),
 * `dir` only ever names /tmp (or something that does not exist), and
 * reservations stay small (<= 8).
 */
import type { Prng } from './prng.js';

export interface CtlGen {
  readonly marker: string;
  /** One write's worth of session ctl text (one or more lines). */
  sessionCtl(r: Prng): Buffer;
  /** Node ctl text (mount/unmount/debug without turning logging on). */
  nodeCtl(r: Prng): Buffer;
  /** Session env lines; `node` keeps out what would poison every later exec on the node. */
  env(r: Prng, node?: boolean): Buffer;
  args(r: Prng): Buffer;
  ns(r: Prng): Buffer;
  /** Bytes for stdin: text or binary. */
  stdin(r: Prng): Buffer;
  /** Any of the above, or plain garbage: for a file whose kind is not known. */
  any(r: Prng): Buffer;
}

const QUOTE_EDGES = [
  "''",
  "''''",
  "'it''s'",
  "'a b'",
  "'\t'",
  "' '",
  "a'b'c",
  "'a''",
  "'",
  "'''",
  "'unbalanced",
  "x'",
  "'new\nline'",
  "''x''",
  "'#'",
  "'=;|&'",
  "\\'",
  "'\\'",
];
const WORDS = [
  'ok',
  'hello',
  'x',
  '',
  '-n',
  '--',
  '*',
  '$HOME',
  '`id`',
  ';',
  '|',
  '&&',
  '>',
  '/tmp',
  'é',
  '日本',
  '\u{1F600}',
  '\uFEFF',
  'a=b',
  '-e',
  '\\n',
  '%s%s%n',
];
const VERBS = [
  'res',
  'exec',
  'kill',
  'signal',
  'eof',
  'dir',
  'nice',
  'killonclose',
  'splice',
  'xsplice',
  'wipe',
  'rank',
];
const SIGNALS = [
  'USR1',
  'SIGUSR1',
  '10',
  'USR2',
  'HUP',
  'CONT',
  'WINCH',
  '0',
  '-1',
  '99',
  '65',
  'SIGBOGUS',
  'sigusr1',
  'TERM',
  '',
  '1e3',
  '18446744073709551616',
  'KILL',
  'STOP',
];
const BLANKS = [' ', ' ', ' ', '  ', '\t', ' \t ', '\r', ''];

export function makeCtlGen(opts: { marker: string; spliceHostPaths?: readonly string[] }): CtlGen {
  const M = opts.marker;
  const hostPaths = opts.spliceHostPaths ?? ['/etc/hostname', '/dev/null', '/nonexistent/file', '/tmp'];

  const word = (r: Prng): string =>
    r.weighted<() => string>([
      [6, () => r.pick(WORDS)],
      [3, () => r.pick(QUOTE_EDGES)],
      [2, () => String(r.int(0, 1_000_000))],
      [2, () => randomAscii(r, r.int(1, 12))],
      [1, () => 'w'.repeat(r.int(100, 5000))],
    ])();

  const sep = (r: Prng) => (r.chance(0.85) ? ' ' : r.pick(BLANKS));

  /** A whitelisted command line after `exec `, quoting noise included. */
  const command = (r: Prng): string =>
    r.weighted<() => string>([
      [4, () => `true ${M}`],
      [4, () => `echo ${M}${Array.from({ length: r.int(0, 4) }, () => sep(r) + word(r)).join('')}`],
      [2, () => `sh -c 'sleep 0.01' ${M}`],
      [3, () => `sh -c 'exit ${r.pick([0, 1, 2, 3, 42, 126, 127, 255, 256, 300])}' ${M}`],
      [1, () => `/bin/echo ${M} '${"''".repeat(r.int(0, 3))}'`],
      [1, () => `'echo' ${M}'' 'a''b'`],
      // Cannot start: must fail the write and leave the node working.
      [1, () => `/no/such/program ${M}`],
      [1, () => `/tmp ${M}`],
      [1, () => `/etc/hostname ${M}`],
      [1, () => `'' ${M}`],
      [1, () => `echo ${M} '${'z'.repeat(r.int(1000, 60_000))}'`],
    ])();

  const res = (r: Prng): string => {
    const n = r.weighted<() => string>([
      [5, () => String(r.int(0, 8))],
      [2, () => `+${r.int(0, 4)}`],
      [
        1,
        () => r.pick(['-1', 'x', '', "''", '08', '+', '++1', '1.5', '0x4', '99999999999999999999', '4097', '100000']),
      ],
    ])();
    const os = r.weighted([
      [6, ''],
      [2, ' *'],
      [1, ' Linux'],
      [1, ' plan9'],
      [1, ' linux x86_64'],
      [1, ' * *'],
      [1, ' * mips'],
      [1, ' a b c'],
    ] as const);
    return `res ${n}${os}`;
  };

  const dirArg = (r: Prng) =>
    r.pick([
      '/tmp',
      '/tmp/',
      '/tmp/.',
      '/tmp/../tmp',
      "'/tmp'",
      '/nonexistent/dir',
      'no-such-rel-dir',
      "''",
      '/etc/hostname',
    ]);

  const spliceArg = (r: Prng) =>
    r.weighted<() => string>([
      [
        3,
        () =>
          r.pick([
            'stdout',
            '0/stdout',
            '../0/stdout',
            '1/stderr',
            '../../x',
            'nosuch/stdout',
            'status',
            'wait',
            'ctl',
            '.',
            '',
          ]),
      ],
      [2, () => r.pick(hostPaths)],
    ])();

  const verbLine = (r: Prng, allowRun: boolean): string => {
    const v = r.weighted<string>([
      [allowRun ? 4 : 0, 'res'],
      [allowRun ? 5 : 0, 'exec'],
      [allowRun ? 1 : 0, 'bare-exec'],
      [2, 'kill'],
      [2, 'signal'],
      [2, 'eof'],
      [2, 'dir'],
      [2, 'nice'],
      [1, 'killonclose'],
      [allowRun ? 1 : 0, 'splice'],
      [allowRun ? 1 : 0, 'xsplice'],
      [allowRun ? 1 : 0, 'wipe'],
      [2, 'rank'],
      [2, 'wrong-arity'],
      [2, 'unknown'],
      [1, 'blank'],
    ]);
    switch (v) {
      case 'res':
        return res(r);
      case 'exec':
        return `exec${sep(r)}${command(r)}`;
      case 'bare-exec':
        return 'exec';
      case 'kill':
        return 'kill';
      case 'signal':
        return `signal ${r.pick(SIGNALS)}`;
      case 'eof':
        return 'eof';
      case 'dir':
        return `dir ${dirArg(r)}`;
      case 'nice':
        return r.chance(0.3) ? 'nice' : `nice ${r.pick(['0', '5', '10', '19', '20', '99', '-1', 'x', '1e1', '010'])}`;
      case 'killonclose':
        return 'killonclose';
      case 'splice':
        return `splice ${spliceArg(r)}`;
      case 'xsplice':
        return `xsplice ${r.pick(['0', '1', '7', 'x', '..', "''"])} ${r.pick(['0', '1', '9', 'y', '../..'])}`;
      case 'wipe':
        return 'wipe';
      case 'rank':
        return `rank ${r.pick(['0', '1', '7', '-1', 'x', '4294967296', '99999999999999999999999'])} ${r.pick(['1', '4', '0', 'y', '1e9'])}`;
      case 'wrong-arity':
        return `${r.pick(VERBS)}${' extra'.repeat(r.int(1, 4))}`.replace(/^exec extra.*/, 'kill now');
      case 'unknown':
        return (
          r.pick(['frobnicate', 'RES 1', 'Exec true', 'unmount x', '#comment', "'res' 1", 'reS', '\u00e9xec']) +
          (r.chance(0.5) ? ` ${word(r)}` : '')
        );
      default:
        return r.pick(['', ' ', '\t', '\r', "''"]);
    }
  };

  const lineEnd = (r: Prng) =>
    r.weighted([
      [8, '\n'],
      [1, '\r\n'],
      [1, '\n\n'],
      [1, ''],
    ] as const);

  const sessionCtl = (r: Prng): Buffer => {
    const shape = r.weighted<string>([
      [14, 'one'],
      [3, 'few'],
      [1, 'many'],
      [1, 'huge'],
      [2, 'binary'],
      [1, 'nul'],
      [1, 'badutf8'],
    ]);
    switch (shape) {
      case 'one':
        return Buffer.from(verbLine(r, true) + lineEnd(r));
      case 'few': {
        // At most one line that starts processes.
        const lines = [verbLine(r, true), ...Array.from({ length: r.int(1, 6) }, () => verbLine(r, false))];
        return Buffer.from(lines.join('\n') + lineEnd(r));
      }
      case 'many': {
        // Thousands of cheap lines in one write.
        const cheap = ['eof', 'nice 5', 'killonclose', 'rank 0 1', 'signal USR1', 'kill', '', ' ', 'dir /tmp', 'nice'];
        const n = r.int(1000, 8000);
        const lines: string[] = [];
        for (let i = 0; i < n; i++) lines.push(r.pick(cheap));
        if (r.chance(0.3)) lines.push('frobnicate');
        return Buffer.from(lines.join('\n') + '\n');
      }
      case 'huge':
        return Buffer.from(
          r.pick(['frobnicate ', 'exec ', 'dir /tmp', "exec echo 'unbalanced ", 'res ']) +
            'q'.repeat(r.int(10_000, 120_000)) +
            '\n',
        );
      case 'binary':
        return r.bytes(r.int(1, 512));
      case 'nul': {
        const s = Buffer.from(verbLine(r, true));
        const at = r.int(0, s.length);
        return Buffer.concat([s.subarray(0, at), Buffer.from([0]), s.subarray(at), Buffer.from('\n')]);
      }
      default: {
        const s = Buffer.from(verbLine(r, true));
        const at = r.int(0, s.length);
        const bad = r.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82]]);
        return Buffer.concat([s.subarray(0, at), Buffer.from(bad), s.subarray(at), Buffer.from('\n')]);
      }
    }
  };

  const nodeCtl = (r: Prng): Buffer =>
    Buffer.from(
      r.weighted<() => string>([
        [
          3,
          () =>
            `mount ${r.pick(['tcp!127.0.0.1!1', '127.0.0.1:1', 'unix!/nonexistent/taskfs.sock', 'bogus', 'tcp!!', '[::1]:1', "''"])} ${r.pick(['x', 'y', 'bad/name', '..', "''", 'n'.repeat(300)])}`,
        ],
        [2, () => `unmount ${r.pick(['x', 'y', 'nosuch', "''"])}`],
        [1, () => r.pick(['mount', 'unmount', 'mount a', 'unmount a b'])],
        // `debug N` would flood the daemon's stderr and `limit NAME N` could
        // starve the checks after the fuzz: only their refusals are tried.
        [1, () => r.pick(['debug', 'limit', 'limit sessions', 'limit bogus 5'])],
        [2, () => r.pick(['frobnicate', 'res 1', 'exec true', '', "'", 'wipe'])],
      ])() + lineEnd(r),
    );

  const envLine = (r: Prng, node: boolean) =>
    r.weighted<() => string>([
      [
        6,
        () =>
          `${r.pick(['FUZZ_A', 'FUZZ_B', '_fz', 'FZ9'])}=${r.chance(0.7) ? word(r).slice(0, 200) : randomAscii(r, r.int(0, 40))}`,
      ],
      [1, () => r.pick(['=x', '1A=b', 'no equals', 'A B=c', '# comment', '', '   ', 'FUZZ-A=1', '\u00e9=1'])],
      [node ? 0 : 1, () => `FUZZ_BIG=${'v'.repeat(r.int(1000, 50_000))}`],
    ])();

  const env = (r: Prng, node = false): Buffer => {
    const text = Array.from({ length: r.int(1, 5) }, () => envLine(r, node)).join('\n') + lineEnd(r);
    return !node && r.chance(0.05) ? Buffer.from(text.replace(/=/, '=\0')) : Buffer.from(text);
  };

  const args = (r: Prng): Buffer =>
    Buffer.from(
      r.weighted<() => string>([
        [4, () => command(r)],
        [1, () => `${command(r)}\n${word(r)}`],
        [1, () => r.pick(["'unbalanced", '', '   ', "''"])],
      ])() + lineEnd(r),
    );

  const ns = (r: Prng): Buffer =>
    Buffer.from(
      r.weighted<() => string>([
        [4, () => `cd ${dirArg(r)}`],
        [1, () => r.pick(['cd', 'cd /tmp extra', 'bind a b', 'mount x y', '# comment', '', "cd 'unbalanced"])],
      ])() + lineEnd(r),
    );

  const stdin = (r: Prng): Buffer => (r.chance(0.5) ? Buffer.from(`${word(r)}\n`) : r.bytes(r.int(0, 4096)));

  return {
    marker: M,
    sessionCtl,
    nodeCtl,
    env,
    args,
    ns,
    stdin,
    any: (r) =>
      r.weighted<() => Buffer>([
        [4, () => sessionCtl(r)],
        [1, () => env(r)],
        [1, () => args(r)],
        [1, () => ns(r)],
        [1, () => stdin(r)],
      ])(),
  };
}

function randomAscii(r: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.int(0x20, 0x7e));
  return s;
}
