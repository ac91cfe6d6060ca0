/**
 * Building blocks for synthetic trees: a file whose behaviour is a function
 * table, a directory listing generated on demand, and a rename wrapper for
 * binding one tree's directory under another name (a bound child session).
 */
import { FsError } from './errors.js';
import { DMDIR, QTDIR, QTFILE, type FileStat, type Node, type OpenFile, type OpenMode, type Qid } from './types.js';

const bootTime = Math.floor(Date.now() / 1000);
const uid = process.env.USER ?? String(process.getuid?.() ?? 'none');

export function qid(path: bigint, dir = false): Qid {
  if (path === 0n) throw new Error('qid.path 0 is reserved');
  return { type: dir ? QTDIR : QTFILE, version: 0, path };
}

export function makeStat(name: string, q: Qid, perm: number, length = 0): FileStat {
  const dir = (q.type & QTDIR) !== 0;
  return { name, qid: q, mode: (dir ? DMDIR : 0) | perm, length, mtime: bootTime, uid, gid: uid };
}

export interface FileSpec {
  name: string;
  qidPath: bigint;
  perm: number;
  open(mode: OpenMode): Promise<OpenFile> | OpenFile;
  /** Growing output files report their spooled length (tail -f needs it). */
  length?(): number | Promise<number>;
  truncate?(): Promise<void> | void;
}

export class SyntheticFile implements Node {
  private readonly qid: Qid;

  constructor(private readonly spec: FileSpec) {
    this.qid = qid(spec.qidPath);
  }

  async stat(): Promise<FileStat> {
    return this.quickStat();
  }

  quickStat(): FileStat | Promise<FileStat> {
    const length = this.spec.length ? this.spec.length() : 0;
    if (typeof length === 'number') return makeStat(this.spec.name, this.qid, this.spec.perm, length);
    return length.then((n) => makeStat(this.spec.name, this.qid, this.spec.perm, n));
  }

  async open(mode: OpenMode): Promise<OpenFile> {
    checkPermission(this.spec.name, this.spec.perm, mode);
    return this.spec.open(mode);
  }

  async truncate(length = 0): Promise<void> {
    if (length === 0) await this.spec.truncate?.();
  }
}

/** Refuse modes no permission bit grants: reading stdin, writing status. */
export function checkPermission(name: string, perm: number, mode: OpenMode): void {
  if (mode.read && (perm & 0o444) === 0) throw new FsError('EACCES', `${name}: permission denied: write only`);
  if (mode.write && (perm & 0o222) === 0) throw new FsError('EACCES', `${name}: permission denied: read only`);
}

export interface DirSpec {
  name: string;
  qidPath: bigint;
  perm?: number;
  /** The entries, in listing order. Called on every walk and listing. */
  entries(): Promise<ReadonlyArray<readonly [string, Node]>> | ReadonlyArray<readonly [string, Node]>;
  /** One entry by name, without making the whole listing (walks are the hot path). */
  lookup?(name: string): Node | undefined;
  remove?(): Promise<void>;
}

export class SyntheticDir implements Node {
  private readonly qid: Qid;

  constructor(private readonly spec: DirSpec) {
    if (spec.remove) this.remove = spec.remove;
    this.qid = qid(spec.qidPath, true);
  }

  remove?: () => Promise<void>;

  async stat(): Promise<FileStat> {
    return this.quickStat();
  }

  quickStat(): FileStat {
    return makeStat(this.spec.name, this.qid, this.spec.perm ?? 0o555);
  }

  walkNow(name: string): Node | undefined {
    return this.spec.lookup?.(name);
  }

  async walk(name: string): Promise<Node | undefined> {
    if (this.spec.lookup) return this.spec.lookup(name);
    for (const [entryName, node] of await this.spec.entries()) if (entryName === name) return node;
    return undefined;
  }

  async list(): Promise<FileStat[]> {
    const entries = await this.spec.entries();
    return Promise.all(entries.map(async ([name, node]) => ({ ...(await node.stat()), name })));
  }
}

/** `node` seen under another name: stat reports `name`, the rest passes through. */
export function renamed(node: Node, name: string): Node {
  const wrapper: Node = {
    stat: async () => ({ ...(await node.stat()), name }),
  };
  if (node.quickStat) {
    wrapper.quickStat = () => {
      const st = node.quickStat!();
      return st instanceof Promise ? st.then((s) => ({ ...s, name })) : { ...st, name };
    };
  }
  if (node.walkNow) wrapper.walkNow = (n) => node.walkNow!(n);
  if (node.walk) wrapper.walk = (n) => node.walk!(n);
  if (node.list) wrapper.list = () => node.list!();
  if (node.open) wrapper.open = (m) => node.open!(m);
  if (node.remove) wrapper.remove = () => node.remove!();
  if (node.truncate) wrapper.truncate = (n) => node.truncate!(n);
  if (node.create) wrapper.create = (n, d, p) => node.create!(n, d, p);
  if (node.chmod) wrapper.chmod = (p) => node.chmod!(p);
  if (node.rename) wrapper.rename = (n) => node.rename!(n);
  return wrapper;
}

/**
 * `dir` with `extra` entries laid over it: they shadow its own of the same
 * name and cannot be made there (EEXIST), nor can `reserved` names (laid
 * over it elsewhere). Everything else, create and remove included, goes to `dir`.
 */
export function withEntries(dir: Node, extra: () => ReadonlyMap<string, Node>, reserved: readonly string[] = []): Node {
  return {
    stat: () => dir.stat(),
    walk: async (name) => extra().get(name) ?? dir.walk!(name),
    list: async () => {
      const more = extra();
      const own = (await dir.list!()).filter((s) => !more.has(s.name));
      const added = await Promise.all([...more].map(async ([name, node]) => ({ ...(await node.stat()), name })));
      return [...added, ...own];
    },
    create: async (name, isDir, perm) => {
      if (extra().has(name) || reserved.includes(name))
        throw new FsError('EEXIST', `${name}: file already exists (made by taskfs)`);
      if (!dir.create) throw new FsError('EACCES', 'permission denied');
      return dir.create(name, isDir, perm);
    },
  };
}
