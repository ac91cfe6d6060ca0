/**
 * Frames for the 9P server fuzzer: (a) valid T-messages packed with the
 * project's codec, with random fields, (b) the same mutated at the byte
 * level, (c) random frames with plausible size headers.
 *
 * To get past the first fid lookup, valid frames are chosen against a
 * model of the connection that is predicted from the frames alone (never
 * from the server's replies, so one seed gives one frame sequence): which
 * fids were walked where and opened how. The model is updated only after a
 * whole batch is made, because the server runs the requests of a batch
 * concurrently: a walk and an open of its newfid in one batch race.
 */
import { NinepFormatError, pack, unpack } from '../../src/ninep/codec.js';
import { negotiateVersion } from '../../src/ninep/connection.js';
import {
  DEFAULT_MSIZE,
  HEADER_SIZE,
  MAXWELEM,
  MIN_MSIZE,
  NOFID,
  NOTAG,
  OEXEC,
  ORCLOSE,
  ORDWR,
  OREAD,
  OTRUNC,
  OWRITE,
  VERSION_9P2000,
} from '../../src/ninep/constants.js';
import type { Message, Stat } from '../../src/ninep/messages.js';
import { layouts } from '../../src/ninep/messages.js';
import { dontTouchStat } from '../../src/ninep/stat.js';
import { SESSION_FILE_NAMES } from '../../src/nodes/bound-session.js';
import type { CtlGen } from './ctl-text.js';
import type { Prng } from './prng.js';

const ROOT_FILES = ['clone', 'ctl', 'arch', 'status', 'env', 'ns'] as const;
const ROOT_DIRS = ['fs', 'nodes'] as const;
const SESSION_FILES = SESSION_FILE_NAMES;
const READ_ONLY = new Set(['arch', 'status', 'stdout', 'stderr', 'wait', 'topology', 'err']);
const GARBAGE_NAMES = [
  '',
  '.',
  'a/b',
  '/',
  'x\0y',
  'nosuch',
  'n'.repeat(300),
  '日本',
  '\uFEFF',
  '-1',
  '00',
  ' 0',
  '0 ',
  '1e1',
  '4294967296',
  'CLONE',
  'clone\n',
  '...',
];
/** The sentinel that ends each round; fuzz frames never use this fid. */
export const SENTINEL_TAG = 0xfffe;
export const SENTINEL_FID = 0xfffffffe;

type Kind =
  | 'root'
  | 'dir'
  | 'sessiondir'
  | 'clone'
  | 'nodectl'
  | 'nodeenv'
  | 'nodens'
  | 'ro'
  | 'ctl'
  | 'args'
  | 'env'
  | 'ns'
  | 'stdin'
  | 'stdio'
  | 'unknown';

interface FidModel {
  path: string[];
  open?: { read: boolean; write: boolean; dir: boolean };
}

export type FrameClass = 'valid' | 'mutated' | 'random';
type Focus = 'walk' | 'open' | 'io' | 'mixed';

export interface Frame {
  bytes: Buffer;
  cls: FrameClass;
  /** The server will drop the connection on it (unpack or framing fails). */
  fatal: boolean;
  /** Its size field does not match its length: what follows is out of step. */
  desync: boolean;
  /** Decoded as the server will see it, when not fatal. */
  msg?: Message;
}

/** What the server is predicted to hold for one connection. */
export class ConnModel {
  session = false;
  maxSize = DEFAULT_MSIZE;
  fids = new Map<number, FidModel>();
  recentTags: number[] = [];

  /** Applies a batch's frames, in order, once the batch is made. */
  apply(msgs: Message[]): void {
    for (const m of msgs) this.applyOne(m);
  }

  private applyOne(m: Message): void {
    if (m.type === 'Tversion') {
      this.fids.clear();
      this.session = false;
      if (m.msize >= MIN_MSIZE && negotiateVersion(m.version) === VERSION_9P2000) {
        this.session = true;
        this.maxSize = Math.min(m.msize, DEFAULT_MSIZE);
      }
      return;
    }
    if (!this.session) return;
    switch (m.type) {
      case 'Tattach':
        if (!this.fids.has(m.fid) && m.afid === NOFID) this.fids.set(m.fid, { path: [] });
        break;
      case 'Twalk': {
        const from = this.fids.get(m.fid);
        if (!from || from.open || (m.newfid !== m.fid && this.fids.has(m.newfid))) break;
        const path = walkPath(from.path, m.wnames);
        if (path) this.fids.set(m.newfid, { path });
        break;
      }
      case 'Topen': {
        const f = this.fids.get(m.fid);
        if (!f || f.open) break;
        const open = predictOpen(kindOf(f.path), m.mode);
        if (open) f.open = open;
        break;
      }
      case 'Tclunk':
      case 'Tremove':
        this.fids.delete(m.fid);
        break;
      default:
        break;
    }
  }
}

/** The path a walk reaches, or undefined when it is predicted to fail. */
function walkPath(from: readonly string[], names: readonly string[]): string[] | undefined {
  let path = [...from];
  for (const n of names) {
    const k = kindOf(path);
    if (!isDirKind(k)) return undefined;
    if (n === '..') {
      path = path.slice(0, -1);
      continue;
    }
    if (!plausibleChild(k, n)) return undefined;
    path = [...path, n];
  }
  return path;
}

function isDirKind(k: Kind): boolean {
  return k === 'root' || k === 'dir' || k === 'sessiondir';
}

function plausibleChild(k: Kind, n: string): boolean {
  // Sessions 0..3 most likely exist (clone hands out the lowest free
  // number), and a reserved session's first children.
  if (k === 'root')
    return (
      (ROOT_FILES as readonly string[]).includes(n) || (ROOT_DIRS as readonly string[]).includes(n) || /^[0-3]$/.test(n)
    );
  if (k === 'sessiondir') return (SESSION_FILES as readonly string[]).includes(n) || /^[01]$/.test(n);
  return false;
}

function kindOf(path: readonly string[]): Kind {
  if (path.length === 0) return 'root';
  const [first, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    switch (first) {
      case 'clone':
        return 'clone';
      case 'ctl':
        return 'nodectl';
      case 'env':
        return 'nodeenv';
      case 'ns':
        return 'nodens';
      case 'arch':
      case 'status':
        return 'ro';
      case 'fs':
      case 'nodes':
        return 'dir';
      default:
        return /^\d+$/.test(first) ? 'sessiondir' : 'unknown';
    }
  }
  if (!/^\d+$/.test(first)) return 'unknown';
  const last = rest[rest.length - 1]!;
  if (/^\d+$/.test(last)) return 'sessiondir';
  if (READ_ONLY.has(last)) return 'ro';
  if (last === 'stdin') return 'stdin';
  if (last === 'stdio') return 'stdio';
  if (last === 'ctl' || last === 'args' || last === 'env' || last === 'ns') return last;
  return 'unknown';
}

function predictOpen(k: Kind, mode: number): FidModel['open'] {
  if ((mode & ~(3 | OTRUNC | ORCLOSE)) !== 0 || (mode & ORCLOSE) !== 0) return undefined;
  const access = mode & 3;
  const read = access === OREAD || access === ORDWR || access === OEXEC;
  const write = access === OWRITE || access === ORDWR;
  if (isDirKind(k))
    return access === OREAD && (mode & OTRUNC) === 0 ? { read: true, write: false, dir: true } : undefined;
  if (k === 'unknown') return undefined;
  if (k === 'ro' && (write || (mode & OTRUNC) !== 0)) return undefined;
  if (k === 'stdin' && read) return undefined;
  return { read, write, dir: false };
}

export class FrameGen {
  constructor(
    private readonly r: Prng,
    private readonly ctl: CtlGen,
  ) {}

  /**
   * A batch for one round on a connection: frames until `target` or the
   * first fatal frame (the server would ignore what follows). A fatal frame
   * ends a batch only with probability `pFatalEnd`; otherwise it is
   * replaced, so connections live long enough to reach deep state.
   */
  batch(model: ConnModel, target: number, pFatalEnd: number): Frame[] {
    const out: Frame[] = [];
    const endWithFatal = this.r.chance(pFatalEnd);
    // Each round leans one way, so that state builds up over rounds:
    // walks bind fids, opens open them, I/O writes ctl text and reads.
    const focus = this.r.weighted<Focus>([
      [3, 'walk'],
      [3, 'open'],
      [5, 'io'],
      [2, 'mixed'],
    ]);
    let maxSize = model.maxSize;
    let later: Message[] = [];
    for (let tries = 0; out.length < target && tries < target * 4; tries++) {
      const f = this.frame(model, maxSize, focus);
      if (f.fatal || f.desync) {
        if (!endWithFatal) continue;
        out.push(f);
        break;
      }
      out.push(f);
      if (f.msg?.type === 'Tversion') {
        // The server handles Tversion at once and drops the session's
        // requests still running: it takes effect for the rest of the batch,
        // and what came before it in the batch leaves nothing behind.
        later = [];
        model.apply([f.msg]);
        maxSize = model.maxSize;
      } else if (f.msg) {
        later.push(f.msg);
      }
    }
    model.apply(later);
    return out;
  }

  /** The preamble of a well-behaved connection: Tversion and Tattach of fid 0. */
  preamble(model: ConnModel): Frame[] {
    const r = this.r;
    const msize = r.weighted([
      [6, DEFAULT_MSIZE],
      [2, 8192],
      [1, MIN_MSIZE + r.int(0, 2000)],
      [1, 0xffffffff],
    ] as const);
    const version = r.weighted([
      [8, '9P2000'],
      [1, '9P2000.u'],
      [1, '9P2000.L'],
    ] as const);
    const msgs: Message[] = [
      { type: 'Tversion', tag: NOTAG, msize, version },
      {
        type: 'Tattach',
        tag: this.tag(model),
        fid: 0,
        afid: NOFID,
        uname: r.pick(['glenda', 'root', '', 'ü']),
        aname: r.pick(['', '/', 'x']),
      },
    ];
    model.apply(msgs);
    return msgs.map((msg) => ({ bytes: pack(msg), cls: 'valid' as const, fatal: false, desync: false, msg }));
  }

  private frame(model: ConnModel, maxSize: number, focus: Focus): Frame {
    const cls = this.r.weighted<FrameClass>([
      [70, 'valid'],
      [22, 'mutated'],
      [8, 'random'],
    ]);
    let bytes: Buffer;
    if (cls === 'valid') bytes = this.validBytes(model, focus);
    else if (cls === 'mutated') bytes = this.mutate(this.validBytes(model, focus), maxSize);
    else bytes = this.randomFrame(maxSize);
    return judge(bytes, cls, maxSize);
  }

  private validBytes(model: ConnModel, focus: Focus = 'mixed'): Buffer {
    for (;;) {
      try {
        return pack(this.message(model, focus));
      } catch (err) {
        // A value the codec refuses (e.g. a string over 64 KiB): try again.
        if (!(err instanceof NinepFormatError)) throw err;
      }
    }
  }

  tag(model: ConnModel): number {
    const r = this.r;
    const t = r.weighted<() => number>([
      [14, () => r.int(0, 0xfffd)],
      [1, () => r.int(0, 15)],
      [1, () => (model.recentTags.length ? r.pick(model.recentTags) : 1)],
      [1, () => NOTAG],
    ])();
    model.recentTags.push(t);
    if (model.recentTags.length > 32) model.recentTags.shift();
    return t;
  }

  /** A fid the model holds (matching `want`, the root only if `root`), now and then any fid at all. */
  private fid(model: ConnModel, want: (f: FidModel) => boolean = () => true, root = true): number {
    const r = this.r;
    const known = [...model.fids.entries()]
      .filter(([n, f]) => want(f) && (root || n !== 0 || r.chance(0.05)))
      .map(([n]) => n);
    if (known.length > 0 && r.chance(0.9)) return r.pick(known);
    return r.weighted<() => number>([
      [6, () => r.int(0, 15)],
      [1, () => NOFID],
      [1, () => (r.u32() === SENTINEL_FID ? 0 : r.u32())],
    ])();
  }

  /** Mostly a fid the model does not hold yet, so the walk can bind it. */
  private newfid(model: ConnModel): number {
    const r = this.r;
    const free = Array.from({ length: 15 }, (_, i) => i + 1).filter((n) => !model.fids.has(n));
    return r.weighted<() => number>([
      [14, () => (free.length ? r.pick(free) : r.int(1, 15))],
      [1, () => (model.fids.size ? r.pick([...model.fids.keys()]) : 0)],
      [1, () => r.pick([NOFID, 0x7fffffff, 0x80000000, r.u32()])],
    ])();
  }

  private message(model: ConnModel, focus: Focus): Message {
    const r = this.r;
    const tag = this.tag(model);
    const fids = [...model.fids.values()];
    const walked = fids.some((f) => !f.open);
    const open = fids.some((f) => f.open);
    const boost = (f: Focus) => (focus === f ? 6 : 1);
    const op = r.weighted<string>([
      [model.session ? 0.15 : 8, 'Tversion'],
      [model.fids.size === 0 ? 8 : 0.7, 'Tattach'],
      [walked ? 8 * boost('walk') : 1, 'Twalk'],
      [fids.some((f) => !f.open && f.path.length > 0) ? 8 * boost('open') : 1, 'Topen'],
      [open ? 6 * boost('io') : 1, 'Tread'],
      [open ? 5 * boost('io') : 1, 'Twrite'],
      [fids.length > 3 ? 5 : 1, 'Tclunk'],
      [0.5, 'Tremove'],
      [2, 'Tstat'],
      [1.5, 'Twstat'],
      [3, 'Tflush'],
      [0.4, 'Tauth'],
      [0.4, 'Tcreate'],
      [0.4, 'R'],
    ]);
    switch (op) {
      case 'Tversion': {
        const msize = r.weighted<() => number>([
          [6, () => DEFAULT_MSIZE],
          [2, () => r.int(MIN_MSIZE, 65536)],
          [1, () => r.int(0, MIN_MSIZE - 1)],
          [1, () => 0xffffffff],
          [1, () => 7],
        ])();
        const version = r.weighted([
          [10, '9P2000'],
          [1, '9P2000.u'],
          [1, '9P2000.L'],
          [1, '9P'],
          [1, '9P1999'],
          [1, ''],
          [1, 'x'.repeat(300)],
          [1, '9P99999999999999999999'],
          [1, '9P2000.x.y'],
        ] as const);
        return { type: 'Tversion', tag: r.chance(0.8) ? NOTAG : tag, msize, version };
      }
      case 'Tattach':
        return {
          type: 'Tattach',
          tag,
          fid: model.fids.size === 0 && r.chance(0.7) ? 0 : r.chance(0.7) ? this.newfid(model) : this.fid(model),
          afid: r.chance(0.9) ? NOFID : r.pick([0, 1, r.u32()]),
          uname: this.text(),
          aname: this.text(),
        };
      case 'Twalk': {
        const fid = this.fid(model, (f) => !f.open && isDirKind(kindOf(f.path)));
        const from = model.fids.get(fid)?.path ?? [];
        const newfid = r.chance(0.1) && fid !== 0 ? fid : this.newfid(model);
        return { type: 'Twalk', tag, fid, newfid, wnames: this.walkNames(from) };
      }
      case 'Topen': {
        const fid = this.fid(model, (f) => !f.open && f.path.length > 0, false);
        const k = kindOf(model.fids.get(fid)?.path ?? ['?']);
        const mode = r.weighted<() => number>([
          [
            8,
            () => (k === 'ro' || isDirKind(k) ? OREAD : k === 'stdin' ? OWRITE : r.pick([ORDWR, ORDWR, OWRITE, OREAD])),
          ],
          [2, () => r.pick([OREAD, OWRITE, ORDWR, OEXEC]) | (r.chance(0.5) ? OTRUNC : 0)],
          [1, () => r.pick([ORCLOSE, ORDWR | ORCLOSE, 0x20, 0x80, 0xff, 0x04])],
        ])();
        return { type: 'Topen', tag, fid, mode };
      }
      case 'Tread': {
        const fid = this.fid(model, (f) => !!f.open?.read);
        const dir = !!model.fids.get(fid)?.open?.dir;
        const offset = r.chance(dir ? 0.8 : 0.6) ? 0n : r.chance(0.5) ? BigInt(r.int(1, 300)) : r.u64();
        const count = r.weighted<() => number>([
          [6, () => r.pick([8192, 4096, 64, 1])],
          [2, () => r.int(0, 200)],
          [1, () => 0],
          [1, () => 0xffffffff],
          [1, () => DEFAULT_MSIZE],
          [1, () => r.u32()],
        ])();
        return { type: 'Tread', tag, fid, offset, count };
      }
      case 'Twrite': {
        const fid = this.fid(model, (f) => !!f.open?.write);
        return {
          type: 'Twrite',
          tag,
          fid,
          offset: r.chance(0.8) ? 0n : r.u64(),
          data: this.writeData(model.fids.get(fid)?.path),
        };
      }
      case 'Tclunk':
        return { type: 'Tclunk', tag, fid: this.fid(model, undefined, false) };
      case 'Tremove':
        return { type: 'Tremove', tag, fid: this.fid(model, undefined, false) };
      case 'Tstat':
        return { type: 'Tstat', tag, fid: this.fid(model) };
      case 'Twstat':
        return { type: 'Twstat', tag, fid: this.fid(model), stat: this.wstat() };
      case 'Tflush':
        return {
          type: 'Tflush',
          tag,
          oldtag: model.recentTags.length && r.chance(0.7) ? r.pick(model.recentTags) : r.int(0, 0xffff),
        };
      case 'Tauth':
        return { type: 'Tauth', tag, afid: r.u32(), uname: this.text(), aname: this.text() };
      case 'Tcreate':
        return { type: 'Tcreate', tag, fid: this.fid(model), name: this.text(), perm: r.u32(), mode: r.int(0, 255) };
      default:
        // A reply sent to the server.
        return r.pick<Message>([
          { type: 'Rversion', tag, msize: 8192, version: '9P2000' },
          { type: 'Rerror', tag, ename: 'oops' },
          { type: 'Rread', tag, data: r.bytes(r.int(0, 64)) },
          { type: 'Rflush', tag },
          { type: 'Rwalk', tag, wqids: [{ type: 0x80, version: 0, path: 1n }] },
          { type: 'Rclunk', tag },
        ]);
    }
  }

  /** Names for a walk from `from`: mostly one or two steps that exist, sometimes anything. */
  private walkNames(from: readonly string[]): string[] {
    const r = this.r;
    const k = kindOf(from);
    if (r.chance(0.8)) {
      if (k === 'root') {
        return r.weighted<() => string[]>([
          [6, () => ['clone']],
          [2, () => [r.pick(ROOT_FILES)]],
          [1, () => [r.pick(ROOT_DIRS)]],
          [3, () => [String(r.int(0, 3))]],
          [6, () => [String(r.int(0, 3)), r.pick(SESSION_FILES)]],
          [2, () => [String(r.int(0, 3)), String(r.int(0, 1)), r.pick(SESSION_FILES)]],
          [1, () => []],
        ])();
      }
      if (k === 'sessiondir') return r.chance(0.8) ? [r.pick(SESSION_FILES)] : [String(r.int(0, 1))];
    }
    const n = r.weighted([
      [2, 0],
      [8, 1],
      [5, 2],
      [2, 3],
      [1, r.int(4, MAXWELEM)],
    ] as const);
    const wnames: string[] = [];
    let at = [...from];
    for (let i = 0; i < n; i++) {
      const name = this.walkName(at);
      wnames.push(name);
      at = name === '..' ? at.slice(0, -1) : [...at, name];
    }
    return wnames;
  }

  private walkName(at: readonly string[]): string {
    const r = this.r;
    const k = kindOf(at);
    return r.weighted<() => string>([
      [k === 'root' ? 10 : 1, () => r.pick([...ROOT_FILES, ...ROOT_DIRS, 'clone', 'clone'])],
      [
        k === 'root' ? 8 : 2,
        () =>
          String(
            r.weighted([
              [12, r.int(0, 3)],
              [2, r.int(4, 12)],
              [1, r.int(13, 99)],
            ] as const),
          ),
      ],
      [k === 'sessiondir' ? 14 : 1, () => r.pick(SESSION_FILES)],
      [3, () => '..'],
      [2, () => r.pick(GARBAGE_NAMES)],
    ])();
  }

  private writeData(path: readonly string[] | undefined): Buffer {
    const r = this.r;
    if (r.chance(0.1)) return r.bytes(r.int(0, 300));
    switch (path ? kindOf(path) : 'unknown') {
      case 'clone':
      case 'ctl':
        return this.ctl.sessionCtl(r);
      case 'nodectl':
      case 'nodens':
        return this.ctl.nodeCtl(r);
      case 'nodeenv':
        return this.ctl.env(r, true);
      case 'env':
        return this.ctl.env(r);
      case 'args':
        return this.ctl.args(r);
      case 'ns':
        return this.ctl.ns(r);
      case 'stdin':
      case 'stdio':
        return this.ctl.stdin(r);
      default:
        return r.chance(0.5) ? this.ctl.stdin(r) : Buffer.from('frobnicate\n');
    }
  }

  private wstat(): Stat {
    const r = this.r;
    const st = dontTouchStat();
    return r.weighted<() => Stat>([
      [4, () => st],
      [3, () => ({ ...st, length: 0n })],
      [1, () => ({ ...st, length: r.u64() })],
      [1, () => ({ ...st, name: this.text() })],
      [1, () => ({ ...st, mode: r.u32() })],
      [1, () => ({ ...st, uid: 'glenda', gid: 'sys' })],
      [1, () => ({ ...st, mtime: r.u32(), atime: 0 })],
      [
        1,
        () => ({
          type: r.int(0, 0xffff),
          dev: r.u32(),
          qid: { type: r.int(0, 255), version: r.u32(), path: r.u64() },
          mode: r.u32(),
          atime: r.u32(),
          mtime: r.u32(),
          length: r.u64(),
          name: this.text(),
          uid: this.text(),
          gid: this.text(),
          muid: this.text(),
        }),
      ],
    ])();
  }

  private text(): string {
    const r = this.r;
    return r.weighted<() => string>([
      [5, () => ''],
      [3, () => r.pick(['glenda', 'none', 'x', '..', '/', 'a/b', 'ü', '\u{1F600}'])],
      [1, () => 'q'.repeat(r.int(200, 3000))],
      [1, () => String.fromCharCode(...Array.from({ length: r.int(1, 20) }, () => r.int(1, 0x7f)))],
    ])();
  }

  // ---- (b) byte mutations of a valid frame --------------------------------

  private mutate(frame: Buffer, maxSize: number): Buffer {
    const r = this.r;
    let b: Buffer = Buffer.from(frame);
    const n = r.weighted([
      [6, 1],
      [3, 2],
      [1, 3],
    ] as const);
    for (let i = 0; i < n; i++) {
      const fix = r.chance(0.5);
      const m = r.weighted<string>([
        [6, 'bitflip'],
        [3, 'byteset'],
        [2, 'truncate'],
        [2, 'extend'],
        [2, 'sizelie'],
        [2, 'insert'],
        [1, 'u16lie'],
        [1, 'u32lie'],
        [1, 'type'],
        [1, 'splice'],
        [1, 'delete'],
      ]);
      switch (m) {
        case 'bitflip': {
          for (let k = r.int(1, 4); k > 0; k--) {
            const at = r.int(0, b.length - 1);
            b[at] = b[at]! ^ (1 << r.int(0, 7));
          }
          break;
        }
        case 'byteset': {
          const at = r.int(0, b.length - 1);
          b[at] = r.pick([0x00, 0xff, 0x7f, 0x80, 0x20, 0x2f, 0x2e, 0x0a, 0x27]);
          break;
        }
        case 'truncate':
          b = b.subarray(0, r.int(0, b.length - 1));
          if (fix) b = fixSize(b);
          break;
        case 'extend':
          b = Buffer.concat([b, r.bytes(r.int(1, 64))]);
          if (fix) b = fixSize(b);
          break;
        case 'sizelie':
          if (b.length >= 4) {
            b.writeUInt32LE(
              r.pick([
                0,
                1,
                4,
                6,
                7,
                b.length - 1,
                b.length + 1,
                b.length + r.int(2, 1000),
                maxSize,
                maxSize + 1,
                0xffffffff,
                r.u32(),
              ]) >>> 0,
              0,
            );
          }
          break;
        case 'insert': {
          const at = r.int(0, b.length);
          b = Buffer.concat([b.subarray(0, at), r.bytes(r.int(1, 32)), b.subarray(at)]);
          if (fix) b = fixSize(b);
          break;
        }
        case 'delete': {
          const at = r.int(HEADER_SIZE, Math.max(HEADER_SIZE, b.length - 1));
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + r.int(1, 8)))]);
          if (fix) b = fixSize(b);
          break;
        }
        case 'u16lie':
          // A count or string length in the body claims something else.
          if (b.length >= HEADER_SIZE + 2)
            b.writeUInt16LE(r.pick([0, 1, 0xffff, 0x8000, 17, 16, r.int(0, 0xffff)]), r.int(HEADER_SIZE, b.length - 2));
          break;
        case 'u32lie':
          if (b.length >= HEADER_SIZE + 4)
            b.writeUInt32LE(
              r.pick([0, 1, 0xffffffff, 0x80000000, DEFAULT_MSIZE, r.u32()]) >>> 0,
              r.int(HEADER_SIZE, b.length - 4),
            );
          break;
        case 'type':
          if (b.length > 4)
            b[4] = r.weighted([
              [3, r.int(100, 127)],
              [1, 106],
              [1, r.int(0, 255)],
            ] as const);
          break;
        default: {
          // The front of this frame with the tail of another message.
          const other = this.validBytes(new ConnModel());
          b = Buffer.concat([b.subarray(0, r.int(0, b.length)), other.subarray(r.int(0, other.length))]);
          if (fix) b = fixSize(b);
        }
      }
    }
    return b;
  }

  // ---- (c) random frames with plausible sizes -----------------------------

  private randomFrame(maxSize: number): Buffer {
    const r = this.r;
    if (r.chance(0.4)) {
      // A T-message of fixed layout with a random body: it parses.
      const [type, n] = r.pick([
        [108, 2],
        [112, 5],
        [116, 16],
        [120, 4],
        [122, 4],
        [124, 4],
      ] as const);
      const b = r.bytes(HEADER_SIZE + n);
      b.writeUInt32LE(b.length, 0);
      b[4] = type;
      return b;
    }
    const len = r.weighted<() => number>([
      [6, () => r.int(HEADER_SIZE, 64)],
      [3, () => r.int(65, 1024)],
      [1, () => r.int(1025, Math.min(maxSize, 70_000))],
      [1, () => r.int(0, HEADER_SIZE - 1)],
    ])();
    const b = r.bytes(len);
    if (len >= 4) b.writeUInt32LE(r.chance(0.9) ? len : r.int(0, len + 100), 0);
    if (len >= 5 && r.chance(0.7)) b[4] = r.pick(Object.values(layouts).map((l) => l.id));
    return b;
  }
}

function fixSize(b: Buffer): Buffer {
  if (b.length >= 4) b.writeUInt32LE(b.length, 0);
  return b;
}

/** What the server will make of these bytes as the next frame on the wire. */
function judge(bytes: Buffer, cls: FrameClass, maxSize: number): Frame {
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== bytes.length) {
    // The framer will cut at the size field, not here: the stream is out of step.
    const size = bytes.length >= 4 ? bytes.readUInt32LE(0) : -1;
    const fatal = size >= 0 && (size < HEADER_SIZE || size > maxSize);
    return { bytes, cls, fatal, desync: !fatal };
  }
  try {
    return { bytes, cls, fatal: false, desync: false, msg: unpack(bytes, maxSize) };
  } catch (err) {
    if (!(err instanceof NinepFormatError)) throw err;
    return { bytes, cls, fatal: true, desync: false };
  }
}
