/**
 * A child on another node, seen through a guard that knows what to say
 * when that node is gone: `status` shows its leaves `Lost`, `wait` gives a
 * `'lost: REASON'` line for every leaf that had not ended, output ends, and
 * nothing blocks. While the node answers, everything passes through.
 */
import { FsError, asFsError } from '../ns/errors.js';
import { textHandle } from '../ns/handles.js';
import { DMDIR, QTDIR, type FileStat, type Node, type OpenFile, type OpenMode } from '../ns/types.js';
import { SESSION_FILE_NAMES, leafCount, type BoundSession } from './bound-session.js';
import { quote } from '../ns/quote.js';

/** What the guard hears of the node: why it is gone (once it is), and a signal that aborts then. */
export interface LostSource {
  readonly lost: string | undefined;
  readonly lostSignal: AbortSignal;
}

/** The child's session files, reached without asking whether they are there. */
export interface SessionFiles {
  /** A file of the session (walking it first would only cost a round trip). */
  at(name: string): Node;
  /** The whole text of a snapshot file of the session (status). */
  read(name: string): Promise<string>;
}

const outputs = new Set(['stdout', 'stderr', 'stdio']);
const answeredWhenLost = new Set(['status', 'wait', ...outputs]);
const sessionFileNames = new Set<string>(SESSION_FILE_NAMES);
/** Directories of a session: they pass through like numbered children. */
const sessionDirNames = new Set(['fs', 'mbox', 'ranks']);

/**
 * Why the node is gone, if `err` says so: the connection's pending requests
 * fail (ECONNRESET) a moment before the loss is announced.
 */
function goneReason(source: LostSource, err: unknown): string | undefined {
  if (source.lost) return source.lost;
  const e = asFsError(err);
  return e.code === 'ECONNRESET' ? e.message : undefined;
}

export function guardLost(child: BoundSession, source: LostSource, id: string, files: SessionFiles): BoundSession {
  const guard = new LostGuard(child, source, id, files);
  // A copy: what the child carries besides (its uplink, optional, staging host) stays.
  return { ...child, dir: guard.dir(), ctl: guard.ctl(), lost: () => source.lost };
}

/** The guard of one child session: what it last learnt of it, and its files. */
class LostGuard {
  private readonly leaves: number;
  /** Until a status is read, a lost child's leaves are named by what we know. */
  private lastStatus: string;
  private dirStat: FileStat;

  constructor(
    private readonly child: BoundSession,
    private readonly source: LostSource,
    id: string,
    private readonly files: SessionFiles,
  ) {
    this.leaves = leafCount(child);
    this.lastStatus = `cmd/${id} 0 Lost '' ''\n`.repeat(this.leaves);
    this.dirStat = {
      name: id,
      qid: { type: QTDIR, version: 0, path: 0xffffffffn },
      mode: DMDIR | 0o555,
      length: 0,
      mtime: Math.floor(Date.now() / 1000),
      uid: '',
      gid: '',
    };
  }

  /** The session directory: session files are guarded, numbered children pass through. */
  dir(): Node {
    return {
      stat: () => this.statDir(),
      walk: (name) => this.walk(name),
      list: async () => (this.source.lost ? [] : this.child.dir.list!()),
    };
  }

  /** The clone handle: writes are refused once the node is gone. */
  ctl(): OpenFile {
    const ctl = this.child.ctl;
    return {
      read: (o, n, s) => ctl.read(o, n, s),
      write: (d, o, s) => (this.source.lost ? Promise.reject(this.lostError()) : ctl.write(d, o, s)),
      close: () => ctl.close(),
    };
  }

  private async statDir(): Promise<FileStat> {
    if (this.source.lost) return this.dirStat;
    return this.child.dir.stat().then(
      (st) => (this.dirStat = st),
      () => this.dirStat,
    );
  }

  private async walk(name: string): Promise<Node | undefined> {
    if (!this.source.lost) {
      try {
        if (sessionFileNames.has(name)) return this.file(name, this.files.at(name));
        const real = await this.child.dir.walk!(name);
        if (!real) return undefined;
        // Session files are guarded; numbered children and the session's directories pass through.
        return /^\d+$/.test(name) || sessionDirNames.has(name) ? real : this.file(name, real);
      } catch (err) {
        if (!goneReason(this.source, err)) throw err;
      }
    }
    return answeredWhenLost.has(name) ? this.file(name, undefined) : undefined;
  }

  /**
   * A session file of the child; `real` is undefined once the node is known
   * gone. The node may also go while the file is being reached (the walk
   * is part of its stat and open): that too is answered as lost.
   */
  private file(name: string, real: Node | undefined): Node {
    return { stat: () => this.statFile(name, real), open: (mode) => this.openFile(name, real, mode) };
  }

  private async statFile(name: string, real: Node | undefined): Promise<FileStat> {
    if (!real || this.source.lost) return this.lostStat(name);
    try {
      return await real.stat();
    } catch (err) {
      if (!goneReason(this.source, err)) throw err;
      return this.lostStat(name);
    }
  }

  private async openFile(name: string, real: Node | undefined, mode: OpenMode): Promise<OpenFile> {
    if (name === 'status') return this.status();
    if (!real || this.source.lost) return this.lostOpen(name, mode);
    let f: OpenFile;
    try {
      f = await real.open!(mode);
    } catch (err) {
      if (!goneReason(this.source, err)) throw err;
      return this.lostOpen(name, mode);
    }
    if (name === 'wait') return lostAwareWait(f, this.leaves, this.source);
    if (outputs.has(name)) return endsWhenLost(f, this.source);
    return f;
  }

  /** The child's status while it answers (remembered), its leaves `Lost` after. */
  private async status(): Promise<OpenFile> {
    if (!this.source.lost) {
      try {
        const text = await this.files.read('status');
        this.lastStatus = text;
        return textHandle({ text });
      } catch (err) {
        if (!goneReason(this.source, err)) throw err;
      }
    }
    return textHandle({ text: this.lastStatus.replace(/^(\S+ \S+ )\S+/gm, '$1Lost') });
  }

  /** What a session file of a gone node gives: lost lines for wait, the end for output. */
  private lostOpen(name: string, mode: OpenMode): OpenFile {
    if (name === 'wait') return textHandle({ text: lostLines(this.leaves, this.source.lost ?? 'connection lost') });
    if (outputs.has(name) && !mode.write) return textHandle({ text: '' });
    throw this.lostError();
  }

  private lostStat(name: string): FileStat {
    return { ...this.dirStat, name, mode: 0o444, qid: { ...this.dirStat.qid, type: 0 } };
  }

  private lostError(): FsError {
    return new FsError('EIO', `node lost: ${this.source.lost ?? 'connection lost'}`);
  }
}

function lostLines(count: number, reason: string): string {
  return `0 0 0 0 ${quote(`lost: ${reason}`)}\n`.repeat(Math.max(0, count));
}

/** Output: a lost node's stream just ends (what it said so far was delivered). */
function endsWhenLost(f: OpenFile, source: LostSource): OpenFile {
  // A stream's reads mostly come with one signal (FUSE shares one per second): combined once, not per read.
  let given: AbortSignal | undefined;
  let combined = source.lostSignal;
  const signal = (s?: AbortSignal): AbortSignal => {
    if (s !== given) {
      given = s;
      combined = anySignal(s, source.lostSignal);
    }
    return combined;
  };
  const ended = async <T>(reading: (signal: AbortSignal) => Promise<T>, end: T, s?: AbortSignal): Promise<T> => {
    try {
      return await reading(signal(s));
    } catch (err) {
      if (goneReason(source, err)) return end;
      throw err;
    }
  };
  return {
    read: (o, n, s) => ended((sig) => f.read(o, n, sig), Buffer.alloc(0), s),
    readInto: f.readInto && ((t, o, s) => ended((sig) => f.readInto!(t, o, sig), 0, s)),
    readFrame: f.readFrame && ((o, n, s) => ended((sig) => f.readFrame!(o, n, sig), { data: Buffer.alloc(0) }, s)),
    write: (d, o, s) => f.write(d, o, s),
    close: () => f.close().catch(() => undefined),
  };
}

/** wait: the node's lines while it answers, then a lost line for each leaf not yet ended. */
function lostAwareWait(f: OpenFile, leaves: number, source: LostSource): OpenFile {
  let seen = 0; // newline count in bytes delivered from the node
  let delivered = 0; // bytes delivered from the node
  let tail: Buffer | undefined;
  return {
    read: async (offset, count, signal) => {
      if (!tail) {
        try {
          const b = await f.read(offset, count, anySignal(signal, source.lostSignal));
          if (offset + b.length > delivered) {
            const fresh = b.subarray(Math.max(0, delivered - offset));
            for (const byte of fresh) if (byte === 10) seen++;
            delivered = offset + b.length;
          }
          return b;
        } catch (err) {
          const reason = goneReason(source, err);
          if (!reason) throw asFsError(err);
          tail = Buffer.from(lostLines(leaves - seen, reason));
        }
      }
      const at = offset - delivered;
      return tail.subarray(Math.max(0, at), Math.max(0, at + count));
    },
    write: () => Promise.reject(new FsError('EACCES', 'permission denied: read only')),
    close: () => f.close().catch(() => undefined),
  };
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}
