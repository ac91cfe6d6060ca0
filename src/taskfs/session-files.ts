/**
 * The session directory (README "A session"): its files, in the spirit of a
 * Plan 9 dirtab, then the bound children as 0, 1, ... Each open is counted
 * on the session (status excepted), and each file's I/O is one small
 * function of the session.
 */
import { allOrNone } from '../ns/all-or-none.js';
import { FsError, asFsError } from '../ns/errors.js';
import { textHandle } from '../ns/handles.js';
import { DiskDir } from '../ns/disk.js';
import { SyntheticDir, SyntheticFile, renamed, withEntries } from '../ns/synthetic.js';
import type { Node, OpenFile, OpenMode } from '../ns/types.js';
import { SESSION_FILE_NAMES, type SessionFileName } from '../nodes/bound-session.js';
import { formatCount } from './barrier.js';
import { mboxDir } from './mbox.js';
import { mergeLines } from './merge.js';
import { ranksDir } from './ranks.js';
import type { Run } from './run.js';
import type { Session } from './session.js';
import type { SettingName } from './settings.js';
import { ctlWrite } from './verbs.js';
import type { Spool } from '../exec/spool.js';

type OutputName = 'stdout' | 'stderr' | 'wait';

interface FileEntry {
  name: SessionFileName;
  perm: number;
  open(s: Session, mode: OpenMode): Promise<OpenFile> | OpenFile;
  /** Reading status does not count as an open. */
  uncounted?: boolean;
  length?(s: Session): number | Promise<number>;
  truncate?(s: Session): Promise<void>;
}

type FileSpec = Omit<FileEntry, 'name'>;

const setting = (name: SettingName): FileSpec => ({
  perm: 0o660,
  open: (s, mode) => {
    // OTRUNC (9P) clears, like the truncate FUSE sends for `>`.
    const cleared = mode.truncate ? s.setText(name, '', false) : Promise.resolve();
    return cleared.then(() =>
      textHandle({
        text: s.text[name],
        write: async (data) => {
          await s.setText(name, data.toString(), true).catch((err) => {
            s.lastError = (err as Error).message;
            throw err;
          });
        },
      }),
    );
  },
  truncate: (s) => s.setText(name, '', false),
});

const output = (name: 'stdout' | 'stderr'): FileSpec => ({
  perm: 0o444,
  open: (s) => outputHandle(s, name),
  length: (s) => outputLength(s, name),
});

const specs: Record<SessionFileName, FileSpec> = {
  ctl: {
    perm: 0o660,
    open: (s) => textHandle({ text: String(s.id), write: (data) => ctlWrite(s, data.toString()) }),
  },
  args: setting('args'),
  env: setting('env'),
  ns: setting('ns'),
  stdin: { perm: 0o222, open: (s) => stdinHandle(s) },
  stdout: output('stdout'),
  stderr: output('stderr'),
  stdio: {
    perm: 0o660,
    open: async (s, mode) => {
      const out = mode.read ? await outputHandle(s, 'stdout') : undefined;
      const inp = mode.write ? await stdinHandle(s) : undefined;
      return {
        read: (o, n, sig) => (out ? out.read(o, n, sig) : Promise.reject(new FsError('EBADF', 'not open for reading'))),
        readInto: out?.readInto && ((t, o, sig) => out.readInto!(t, o, sig)),
        readFrame: out?.readFrame && ((o, n, sig) => out.readFrame!(o, n, sig)),
        write: (d, o, sig) =>
          inp ? inp.write(d, o, sig) : Promise.reject(new FsError('EBADF', 'not open for writing')),
        close: async () => {
          await Promise.allSettled([out?.close(), inp?.close()]);
        },
      };
    },
    length: (s) => outputLength(s, 'stdout'),
  },
  status: { perm: 0o444, uncounted: true, open: async (s) => textHandle({ text: await s.status() }) },
  wait: { perm: 0o444, open: (s) => outputHandle(s, 'wait') },
  topology: { perm: 0o444, open: (s) => textHandle({ text: s.topology() }) },
  err: { perm: 0o444, open: (s) => textHandle({ text: s.lastError }) },
  barrier: { perm: 0o664, uncounted: true, open: (s, mode) => barrierHandle(s, mode) },
  // The parent that reserved this session opens it to serve the way up (nodes/uplink.ts).
  import: { perm: 0o660, uncounted: true, open: (s) => s.importHandle() },
};

/** The session's files in directory order; a file's place is its qid path. */
export const sessionFiles: readonly FileEntry[] = SESSION_FILE_NAMES.map((name) => ({ name, ...specs[name] }));

/** Qid indexes of the session's directories, after its files. */
const MBOX_INDEX = 0xf0;
const RANKS_INDEX = 0xf1;

/**
 * A read-only open is a leaf's arrival (or, on an inner session, its
 * `ARRIVED TOTAL STATE`); an open for writing is a parent's watch.
 */
function barrierHandle(s: Session, mode: OpenMode): OpenFile {
  const keep = (e: FsError) => void (s.lastError = e.message);
  if (mode.write) return s.barrier.watchHandle(keep);
  if (s.isInner) return textHandle({ text: formatCount(s.barrier.count()) });
  let done = false;
  return {
    read: async (_offset, _count, signal) => {
      if (!done) {
        await s.barrier.arrive(signal).catch((err) => {
          if (asFsError(err).code !== 'EINTR') keep(asFsError(err));
          throw err;
        });
        done = true;
      }
      return Buffer.alloc(0);
    },
    write: async () => {
      throw new FsError('EACCES', 'barrier: permission denied: read it to arrive');
    },
    close: async () => undefined,
  };
}

const noEntries: ReadonlyMap<string, Node> = new Map();

/** Qid path of file `index` of session `serial` (index 0 is the directory). */
export function sessionQid(serial: number, index: number): bigint {
  return (BigInt(serial) << 8n) | BigInt(index);
}

export function sessionDir(session: Session, name: string): Node {
  const files = sessionFiles.map(
    (f, i) =>
      [
        f.name,
        new SyntheticFile({
          name: f.name,
          qidPath: sessionQid(session.serial, i + 1),
          perm: f.perm,
          open: (mode) => counted(session, f, mode),
          length: f.length ? () => f.length!(session) : undefined,
          truncate: f.truncate ? () => f.truncate!(session) : undefined,
        }),
      ] as const,
  );
  // The node's fs/, with this session's out/ once a collect made it.
  const out = new DiskDir(session.outDir(), 'out');
  const fs = renamed(
    withEntries(session.node.staging.tree, () => (session.outMade ? new Map([['out', out]]) : noEntries)),
    'fs',
  );
  let self: Node;
  const dirs = [
    ['fs', fs],
    ['mbox', mboxDir(session, sessionQid(session.serial, MBOX_INDEX))],
    [
      'ranks',
      ranksDir({ topology: () => session.topology(), dir: () => self }, sessionQid(session.serial, RANKS_INDEX)),
    ],
  ] as const;
  const fileByName = new Map<string, Node>([...files, ...dirs]);
  const childDir = (i: number): Node | undefined => {
    const child = session.children[i];
    if (!child) return undefined;
    // rmdir of a bound child is subjob delete: the parent drops that share.
    return { ...renamed(child.dir, String(i)), remove: () => session.drop(session.children.indexOf(child)) };
  };
  self = new SyntheticDir({
    name,
    qidPath: sessionQid(session.serial, 0),
    entries: () => [...files, ...dirs, ...session.children.map((_, i) => [String(i), childDir(i)!] as const)],
    lookup: (entry) => {
      const file = fileByName.get(entry);
      if (file || !/^(0|[1-9]\d*)$/.test(entry)) return file;
      return childDir(Number(entry));
    },
    remove: () => session.rmdir(),
  });
  return self;
}

async function counted(session: Session, file: FileEntry, mode: OpenMode): Promise<OpenFile> {
  if (session.removed) throw new FsError('ENOENT', `session ${session.id} has been removed`);
  const handle = await file.open(session, mode);
  if (file.uncounted) return handle;
  const kind = file.name === 'ctl' ? 'ctl' : 'file';
  session.opened(kind);
  let closed = false;
  return {
    read: (o, n, sig) => handle.read(o, n, sig),
    readInto: handle.readInto && ((t, o, sig) => handle.readInto!(t, o, sig)),
    readFrame: handle.readFrame && ((o, n, sig) => handle.readFrame!(o, n, sig)),
    write: (d, o, sig) => handle.write(d, o, sig),
    close: async () => {
      if (closed) return;
      closed = true;
      await handle.close();
      await session.closed(kind);
    },
  };
}

/** A leaf reads its run's spool; an inner session merges its children's files. */
async function outputHandle(session: Session, name: OutputName): Promise<OpenFile> {
  if (session.isInner) return mergeLines(await openChildren(session, name, { read: true, write: false }));
  let run: Run | undefined = session.run;
  const spool = async (signal?: AbortSignal): Promise<Spool | undefined> => {
    run ??= await session.awaitRun(signal);
    return run?.[name];
  };
  return {
    read: async (offset, count, signal) => (await spool(signal))?.read(offset, count, signal) ?? Buffer.alloc(0),
    readInto: async (target, offset, signal) => (await spool(signal))?.readInto(target, offset, signal) ?? 0,
    write: async () => {
      throw new FsError('EACCES', 'permission denied: read only');
    },
    close: async () => undefined,
  };
}

/** Bytes spooled so far, summed over the leaves: `tail -f` follows a growing size. */
function outputLength(session: Session, name: 'stdout' | 'stderr'): number | Promise<number> {
  if (!session.isInner) return session.run?.[name].length ?? 0; // at once: getattr answers without a promise
  return childrenLength(session, name);
}

async function childrenLength(session: Session, name: 'stdout' | 'stderr'): Promise<number> {
  const sizes = await Promise.all(
    session.children.map(async (c) => (await (await c.dir.walk?.(name))?.stat())?.length ?? 0),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

async function stdinHandle(session: Session): Promise<OpenFile> {
  const children = session.isInner
    ? await openChildren(session, 'stdin', { read: false, write: true, writeBehind: true })
    : undefined;
  if (children) session.stdinWriters.add(children);
  return {
    read: async () => {
      throw new FsError('EACCES', 'permission denied: write only');
    },
    write: async (data) => {
      await session.writeStdin(data, children);
      return data.length;
    },
    close: async () => {
      await Promise.allSettled((children ?? []).map((c) => c.close()));
      if (children) session.stdinWriters.delete(children);
    },
  };
}

async function openChildren(session: Session, name: string, mode: OpenMode): Promise<OpenFile[]> {
  // In parallel: for children on other nodes each open is two round trips.
  return allOrNone(
    session.children.map(async (child) => {
      const node = await child.dir.walk?.(name);
      if (!node?.open) throw new FsError('EIO', `child has no ${name}`);
      return node.open(mode);
    }),
    (f) => f.close(),
  );
}
