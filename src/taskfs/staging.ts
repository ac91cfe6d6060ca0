/**
 * The node's staging directory `fs/` (README "Staging"): files written
 * there before `exec` reach every leaf's working directory. On disk it is
 * WORKDIR/fs. Two synthetic files sit on top: `.sums` (`SHA256 SIZE PATH`
 * per file, what a parent reads to send only what differs) and `.sent`
 * (`BYTES FILES`: what this node has sent to its child nodes).
 */
import { createHash } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskDir } from '../ns/disk.js';
import { textHandle } from '../ns/handles.js';
import { SyntheticFile, withEntries } from '../ns/synthetic.js';
import type { Node } from '../ns/types.js';
import { quote, tokenize } from '../ns/quote.js';

/** A staged file: `rel` is its path below fs/, with `/` between names. */
export interface StagedFile {
  rel: string;
  path: string;
  size: number;
  mtimeMs: number;
  /** Permission bits: a staged script stays executable. */
  mode: number;
}

export interface StagedSum extends StagedFile {
  sha256: string;
}

/** Qid paths of the synthetic files (beside the node's own small numbers). */
const SUMS_QID = 0x100n - 2n;
const SENT_QID = 0x100n - 3n;

export class Staging {
  /** Bytes and files this node sent into child nodes' fs/ (`.sent`). */
  sentBytes = 0;
  sentFiles = 0;
  /** Per child node (a StagingHost), the `.sums` text it was last left holding. */
  readonly mirrored = new WeakMap<object, string>();
  /** Per child node, the staging under way: two execs at once send one after the other. */
  readonly sending = new WeakMap<object, Promise<void>>();
  /** Hashes by path, kept while the file's inode, size and times stay the same. */
  private readonly hashes = new Map<string, { key: string; sha256: string }>();
  readonly tree: Node;

  constructor(readonly root: string) {
    const synthetic = new Map<string, Node>([
      [
        '.sums',
        new SyntheticFile({
          name: '.sums',
          qidPath: SUMS_QID,
          perm: 0o444,
          open: async () => textHandle({ text: formatSums(await this.sums()) }),
        }),
      ],
      [
        '.sent',
        new SyntheticFile({
          name: '.sent',
          qidPath: SENT_QID,
          perm: 0o444,
          open: () => textHandle({ text: `${this.sentBytes} ${this.sentFiles}\n` }),
        }),
      ],
    ]);
    // `out` is each session's own (collected files), laid over this in its view.
    this.tree = withEntries(new DiskDir(root, 'fs'), () => synthetic, ['out']);
  }

  async start(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  private listing?: Promise<StagedFile[]>;

  /**
   * Every regular file below fs/, by path. Links and other kinds are not
   * staged. Calls that overlap share one walk: the N leaves of a launch
   * list fs/ once, not N times.
   */
  files(): Promise<StagedFile[]> {
    this.listing ??= this.walk().finally(() => (this.listing = undefined));
    return this.listing;
  }

  private async walk(): Promise<StagedFile[]> {
    const out: StagedFile[] = [];
    const visit = async (dir: string, prefix: string): Promise<void> => {
      // A directory that is not there stages nothing: removed meanwhile, or a node never started
      // (a Slurm allocation's node of hosts has no fs/ of its own).
      const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const path = join(dir, entry.name);
        const rel = prefix + entry.name;
        if (entry.isDirectory()) await visit(path, `${rel}/`);
        else if (entry.isFile()) {
          const st = await lstat(path).catch(() => undefined);
          if (st?.isFile()) out.push({ rel, path, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o777 });
        }
      }
    };
    await visit(this.root, '');
    return out;
  }

  /** Files with their SHA-256, hashed again only when a file changed. */
  async sums(): Promise<StagedSum[]> {
    const out: StagedSum[] = [];
    // One at a time: thousands of files must not mean thousands of open streams.
    for (const f of await this.files()) out.push({ ...f, sha256: await this.hash(f.path) });
    return out;
  }

  private async hash(path: string): Promise<string> {
    const st = await lstat(path, { bigint: true });
    const key = statKey(st);
    const known = this.hashes.get(path);
    if (known?.key === key) return known.sha256;
    const sha256 = await sha256File(path);
    this.hashes.set(path, { key, sha256 });
    return sha256;
  }
}

function statKey(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Streamed: a file of any size costs one read buffer. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** `.sums`: one `SHA256 SIZE PATH` line per file, PATH quoted Plan 9 style. */
export function formatSums(sums: readonly StagedSum[]): string {
  return sums.map((s) => `${s.sha256} ${s.size} ${quote(s.rel)}\n`).join('');
}

/** PATH -> SHA256 from a `.sums` text; lines that do not parse are ignored (sent again). */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const words = tokenize(line);
    if (words.length === 3 && /^[0-9a-f]{64}$/.test(words[0]!)) out.set(words[2]!, words[0]!);
  }
  return out;
}
