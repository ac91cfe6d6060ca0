/**
 * A child on another node, seen through a guard that knows what to say
 * when that node is gone: `status` shows its leaves `Lost`, `wait` gives a
 * `'lost: REASON'` line for every leaf that had not ended, output ends, and
 * nothing blocks. While the node answers, everything passes through.
 */
import { FsError, asFsError } from '../ns/errors.js';
import { textHandle } from '../ns/handles.js';
import { DMDIR, QTDIR, type FileStat, type Node, type OpenFile, type OpenMode } from '../ns/types.js';
import { leafCount, type BoundSession } from '../taskfs/bound-session.js';
import { quote } from '../taskfs/quote.js';

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
/** Every session directory has these (SPEC section 1). */
const sessionFileNames = new Set([
  'ctl',
  'args',
  'env',
  'ns',
  'stdin',
  'status',
  'wait',
  'topology',
  'err',
  ...outputs,
]);

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
  const leaves = leafCount(child);
  // Until a status is read, a lost child's leaves are named by what we know.
  let lastStatus = `cmd/${id} 0 Lost '' ''\n`.repeat(leaves);
  let dirStat: FileStat = {
    name: id,
    qid: { type: QTDIR, version: 0, path: 0xffffffffn },
    mode: DMDIR | 0o555,
    length: 0,
    mtime: Math.floor(Date.now() / 1000),
    uid: '',
    gid: '',
  };
  const lostError = () => new FsError('EIO', `node lost: ${source.lost ?? 'connection lost'}`);

  const statusHandle = async (): Promise<OpenFile> => {
    if (!source.lost) {
      try {
        const text = await files.read('status');
        lastStatus = text;
        return textHandle({ text });
      } catch (err) {
        if (!goneReason(source, err)) throw err;
      }
    }
    return textHandle({ text: lastStatus.replace(/^(\S+ \S+ )\S+/gm, '$1Lost') });
  };

  /** What a session file of a gone node gives: lost lines for wait, the end for output. */
  const lostOpen = (name: string, mode: OpenMode): OpenFile => {
    if (name === 'wait') return textHandle({ text: lostLines(leaves, source.lost ?? 'connection lost') });
    if (outputs.has(name) && !mode.write) return textHandle({ text: '' });
    throw lostError();
  };
  const lostStat = (name: string): FileStat => ({ ...dirStat, name, mode: 0o444, qid: { ...dirStat.qid, type: 0 } });

  /**
   * A session file of the child; `real` is undefined once the node is known
   * gone. The node may also go while the file is being reached (the walk
   * is part of its stat and open): that too is answered as lost.
   */
  const file = (name: string, real: Node | undefined): Node => ({
    stat: async () => {
      if (!real || source.lost) return lostStat(name);
      try {
        return await real.stat();
      } catch (err) {
        if (!goneReason(source, err)) throw err;
        return lostStat(name);
      }
    },
    open: async (mode) => {
      if (name === 'status') return statusHandle();
      if (!real || source.lost) return lostOpen(name, mode);
      let f: OpenFile;
      try {
        f = await real.open!(mode);
      } catch (err) {
        if (!goneReason(source, err)) throw err;
        return lostOpen(name, mode);
      }
      if (name === 'wait') return lostAwareWait(f, leaves, source);
      if (outputs.has(name)) return endsWhenLost(f, source);
      return f;
    },
  });

  const dir: Node = {
    stat: async () => {
      if (source.lost) return dirStat;
      return child.dir.stat().then(
        (st) => (dirStat = st),
        () => dirStat,
      );
    },
    walk: async (name) => {
      if (!source.lost) {
        try {
          if (sessionFileNames.has(name)) return file(name, files.at(name));
          const real = await child.dir.walk!(name);
          if (!real) return undefined;
          // Session files are guarded; numbered children and fs/ are directories, and pass through.
          return /^\d+$/.test(name) || name === 'fs' ? real : file(name, real);
        } catch (err) {
          if (!goneReason(source, err)) throw err;
        }
      }
      return answeredWhenLost.has(name) ? file(name, undefined) : undefined;
    },
    list: async () => (source.lost ? [] : child.dir.list!()),
  };

  const ctl: OpenFile = {
    read: (o, n, s) => child.ctl.read(o, n, s),
    write: (d, o, s) => {
      if (source.lost) return Promise.reject(lostError());
      return child.ctl.write(d, o, s);
    },
    close: () => child.ctl.close(),
  };

  return { dir, ctl, topology: child.topology, release: child.release, host: child.host, lost: () => source.lost };
}

function lostLines(count: number, reason: string): string {
  return `0 0 0 0 ${quote(`lost: ${reason}`)}\n`.repeat(Math.max(0, count));
}

/** Output: a lost node's stream just ends (what it said so far was delivered). */
function endsWhenLost(f: OpenFile, source: LostSource): OpenFile {
  return {
    read: async (o, n, s) => {
      try {
        return await f.read(o, n, anySignal(s, source.lostSignal));
      } catch (err) {
        if (goneReason(source, err)) return Buffer.alloc(0);
        throw err;
      }
    },
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
