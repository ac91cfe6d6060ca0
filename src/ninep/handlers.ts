/**
 * What each T-message does to the session and the tree. The connection
 * (connection.ts) owns tags, flush and Tversion; everything here may run
 * concurrently with other requests, so state is re-checked after every
 * await and nothing is committed once the request's signal has aborted
 * (a flushed request must look as if it never happened).
 */
import { DMDIR, isDir } from '../ns/types.js';
import { FsError } from '../ns/errors.js';
import { IOHDRSZ, OEXEC, ORCLOSE, ORDWR, OREAD, OTRUNC, OWRITE } from './constants.js';
import { admitAttach, auth, authRead, authWrite } from './authfid.js';
import { readDir } from './dirread.js';
import type { ConnState } from './fid.js';
import { RREAD_HEADER, framedRread, giveFrame, takeFrame } from './rread-frame.js';
import { Fid, closeQuietly, interrupted, lookupAnyFid, lookupFid, roomForFid } from './fid.js';
import type { Msg, RMessage, TMessage, Untagged } from './messages.js';
import { assertQid, toWireStat, wstatRequest } from './stat.js';
import { walk } from './walk.js';

export type Reply = Untagged<RMessage>;

/** Reads of a whole msize in flight per connection before further ones are cut to CLASSIC_IOUNIT. */
const FULL_SIZE_READS = 8;
const CLASSIC_IOUNIT = 128 * 1024;
/** Reads this large go straight into their reply frame (rread-frame.ts). */
const IN_PLACE_MIN = 16 * 1024;

export async function handle(s: ConnState, msg: TMessage, signal: AbortSignal): Promise<Reply> {
  switch (msg.type) {
    // Without a key: "authentication not required", and clients attach with NOFID.
    case 'Tauth':
      return auth(s, msg);
    case 'Tattach':
      return attach(s, msg, signal);
    case 'Twalk':
      return walk(s, msg, signal);
    case 'Topen':
      return open(s, msg, signal);
    case 'Tcreate':
      return create(s, msg, signal);
    case 'Tread':
      return read(s, msg, signal);
    case 'Twrite':
      return write(s, msg, signal);
    case 'Tclunk':
      return clunk(s, msg);
    case 'Tremove':
      return remove(s, msg);
    case 'Tstat':
      return stat(s, msg);
    case 'Twstat':
      return wstat(s, msg);
    case 'Tversion':
    case 'Tflush':
      throw new Error(`${msg.type} is handled by the connection`);
  }
}

async function attach(s: ConnState, msg: Msg<'Tattach'>, signal: AbortSignal): Promise<Reply> {
  if (s.fids.has(msg.fid)) throw new FsError('EBADF', 'fid already in use');
  roomForFid(s);
  // Before any await, so two attaches racing on one afid cannot both use it.
  admitAttach(s, msg);
  const root = s.root();
  const st = await root.stat();
  if (signal.aborted) throw interrupted();
  if (s.fids.has(msg.fid)) throw new FsError('EBADF', 'fid already in use');
  roomForFid(s);
  const qid = assertQid(st.qid, 'attach');
  s.fids.set(msg.fid, new Fid([root], qid));
  return { type: 'Rattach', qid };
}

async function open(s: ConnState, msg: Msg<'Topen'>, signal: AbortSignal): Promise<Reply> {
  const f = lookupFid(s, msg.fid);
  if (f.open !== undefined || f.opening) throw new FsError('EBADF', 'fid already open');
  const { access, read, write, truncate } = openMode(msg.mode);

  f.opening = true;
  try {
    const st = await f.node.stat();
    if (signal.aborted) throw interrupted();
    const qid = assertQid(st.qid, 'open');
    const reply: Reply = { type: 'Ropen', qid, iounit: s.msize - IOHDRSZ };
    if (isDir(st)) {
      if (access !== OREAD || truncate) throw new FsError('EISDIR', 'is a directory');
      if (s.fids.get(msg.fid) !== f) throw new FsError('EBADF', 'unknown fid');
      f.open = { mode: msg.mode, read: true, write: false, dir: { entries: [], index: 0, offset: 0n } };
      return reply;
    }
    // The tree expects front ends to check the permission bits (ns/types.ts).
    if (read && (st.mode & 0o444) === 0) throw new FsError('EACCES', 'permission denied');
    if ((write || truncate) && (st.mode & 0o222) === 0) throw new FsError('EACCES', 'permission denied');
    if (f.node.open === undefined) throw new FsError('EACCES', 'permission denied');
    const file = await f.node.open({ read, write, truncate });
    if (signal.aborted || s.fids.get(msg.fid) !== f) {
      // Flushed or clunked meanwhile: the open must not outlive its fid.
      await file.close().catch((err: unknown) => s.log('close after abandoned open: %s', err));
      throw signal.aborted ? interrupted() : new FsError('EBADF', 'unknown fid');
    }
    f.open = { mode: msg.mode, read, write, file };
    return reply;
  } finally {
    f.opening = false;
  }
}

function openMode(mode: number) {
  if ((mode & ~(3 | OTRUNC | ORCLOSE)) !== 0) throw new FsError('EINVAL', 'illegal mode');
  // Remove-on-close would let any reader delete sessions; not offered.
  if ((mode & ORCLOSE) !== 0) throw new FsError('EPERM', 'permission denied');
  const access = mode & 3;
  const read = access === OREAD || access === ORDWR || access === OEXEC;
  const write = access === OWRITE || access === ORDWR;
  return { access, read, write, truncate: (mode & OTRUNC) !== 0 };
}

/**
 * create(9P): only directories that offer create (a staging directory)
 * take new names. The fid becomes the new file, open in `mode`. A create
 * flushed once the file is made still leaves the file: the disk has it.
 */
async function create(s: ConnState, msg: Msg<'Tcreate'>, signal: AbortSignal): Promise<Reply> {
  const f = lookupFid(s, msg.fid);
  if (f.open !== undefined || f.opening) throw new FsError('EBADF', 'fid already open');
  if (!f.isDir) throw new FsError('ENOTDIR', 'not a directory');
  const { read, write } = openMode(msg.mode);
  const dir = (msg.perm & DMDIR) !== 0;
  if (dir && write) throw new FsError('EISDIR', 'is a directory');
  if (f.node.create === undefined) throw new FsError('EACCES', 'permission denied');
  f.opening = true;
  try {
    const node = await f.node.create(msg.name, dir, msg.perm & 0o777);
    const qid = assertQid((await node.stat()).qid, 'create');
    const file = dir ? undefined : await node.open!({ read, write });
    if (signal.aborted || s.fids.get(msg.fid) !== f) {
      await file?.close().catch((err: unknown) => s.log('close after abandoned create: %s', err));
      throw signal.aborted ? interrupted() : new FsError('EBADF', 'unknown fid');
    }
    const made = new Fid([...f.nodes, node], qid);
    made.open = dir
      ? { mode: msg.mode, read: true, write: false, dir: { entries: [], index: 0, offset: 0n } }
      : { mode: msg.mode, read, write, file };
    s.fids.set(msg.fid, made);
    return { type: 'Rcreate', qid, iounit: s.msize - IOHDRSZ };
  } finally {
    f.opening = false;
  }
}

function ioOffset(offset: bigint): number {
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError('EINVAL', 'offset too large');
  return Number(offset);
}

async function read(s: ConnState, msg: Msg<'Tread'>, signal: AbortSignal): Promise<Reply> {
  const count = Math.min(msg.count, s.msize - IOHDRSZ);
  const af = s.fids.get(msg.fid);
  if (af?.auth !== undefined) return authRead(af, count);
  const f = lookupFid(s, msg.fid);
  const o = f.open;
  if (o === undefined || !o.read) throw new FsError('EBADF', 'fid not open for reading');
  if (o.dir !== undefined) {
    return { type: 'Rread', data: await readDir(f, o.dir, msg.offset, count, signal) };
  }
  const file = o.file!;
  // Many large reads at once would each hold a frame of msize: beyond a few,
  // reads get the iounit of the classic msize, which bounds what replies
  // queued for one connection can hold (README "Limits").
  const n = s.reading >= FULL_SIZE_READS ? Math.min(count, CLASSIC_IOUNIT) : count;
  s.reading++;
  try {
    if (file.readFrame !== undefined) {
      // A child's reply passed on: its frame goes out again with this tag.
      const { data, frame } = await file.readFrame(ioOffset(msg.offset), n, signal);
      if (frame !== undefined && data.length <= n && data.byteOffset === frame.byteOffset + RREAD_HEADER) {
        return framedRread(frame, data.length);
      }
      return { type: 'Rread', data: data.length > n ? data.subarray(0, n) : data };
    }
    if (file.readInto !== undefined && n >= IN_PLACE_MIN) {
      const frame = takeFrame(RREAD_HEADER + n);
      try {
        return framedRread(
          frame,
          await file.readInto(frame.subarray(RREAD_HEADER, RREAD_HEADER + n), ioOffset(msg.offset), signal),
        );
      } catch (err) {
        giveFrame(frame);
        throw err;
      }
    }
    const data = await file.read(ioOffset(msg.offset), n, signal);
    return { type: 'Rread', data: data.length > n ? data.subarray(0, n) : data };
  } finally {
    s.reading--;
  }
}

async function write(s: ConnState, msg: Msg<'Twrite'>, signal: AbortSignal): Promise<Reply> {
  const af = s.fids.get(msg.fid);
  if (af?.auth !== undefined) return authWrite(s, af, msg.data);
  const f = lookupFid(s, msg.fid);
  const o = f.open;
  if (o === undefined || !o.write || o.file === undefined) {
    throw new FsError('EBADF', 'fid not open for writing');
  }
  const n = await o.file.write(msg.data, ioOffset(msg.offset), signal);
  const count = Number.isInteger(n) && n >= 0 && n <= msg.data.length ? n : msg.data.length;
  return { type: 'Rwrite', count };
}

async function clunk(s: ConnState, msg: Msg<'Tclunk'>): Promise<Reply> {
  const f = lookupAnyFid(s, msg.fid);
  s.fids.delete(msg.fid);
  await closeQuietly(f, s.log);
  return { type: 'Rclunk' };
}

/** remove(9P): the fid is clunked even when the remove fails. */
async function remove(s: ConnState, msg: Msg<'Tremove'>): Promise<Reply> {
  const f = lookupAnyFid(s, msg.fid);
  s.fids.delete(msg.fid);
  try {
    if (f.auth !== undefined || f.node.remove === undefined) throw new FsError('EPERM', 'permission denied');
    await f.node.remove();
  } finally {
    await closeQuietly(f, s.log);
  }
  return { type: 'Rremove' };
}

async function stat(s: ConnState, msg: Msg<'Tstat'>): Promise<Reply> {
  const f = lookupFid(s, msg.fid);
  const st = toWireStat(await f.node.stat());
  // stat(9P): the root of a server is called '/'.
  if (f.nodes.length === 1) st.name = '/';
  return { type: 'Rstat', stat: st };
}

/**
 * A Twstat that changes nothing is a sync request. A mode changes the
 * permission bits of a file in fs/ (nothing else can be chmod-ed). A length truncates (0 is what Unix clients send for O_TRUNC,
 * so `> file` works; a staged file takes any length), and a file that
 * cannot be resized takes 0 as a no-op. A name renames, where the tree
 * offers it (files in fs/).
 */
async function wstat(s: ConnState, msg: Msg<'Twstat'>): Promise<Reply> {
  const f = lookupFid(s, msg.fid);
  const req = wstatRequest(msg.stat);
  if (req === 'change') throw new FsError('EPERM', 'permission denied');
  const node = f.node;
  if (req.name !== undefined && !node.rename) throw new FsError('EPERM', 'permission denied');
  if (req.mode !== undefined && (!node.chmod || ((req.mode ^ (await node.stat()).mode) & ~0o777) !== 0)) {
    throw new FsError('EPERM', 'permission denied'); // only the permission bits change
  }
  if (req.mode !== undefined) await node.chmod!(req.mode & 0o777);
  if (req.length !== undefined) {
    const length = ioOffset(req.length);
    if (node.truncate) await node.truncate(length);
    else if (length !== 0) throw new FsError('EPERM', 'permission denied');
  }
  if (req.name !== undefined) await node.rename!(req.name);
  return { type: 'Rwstat' };
}
