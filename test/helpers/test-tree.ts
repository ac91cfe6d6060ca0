/**
 * A small in-memory tree on the ns interfaces, for the 9P tests:
 *
 *   /            dir   qid 1
 *   /hello       file  qid 2   "hello, world\n", read-only
 *   /sink        file  qid 3   write-only, records every write
 *   /block       file  qid 4   read waits for a write (or an abort)
 *   /sub         dir   qid 5
 *   /sub/deep    file  qid 6   "deep\n"
 *   /sub/gone    file  qid 7   removable
 *   /sub/busy    file  qid 10  remove fails: EBUSY 'session 3 is still running'
 *   /many        dir   qid 8   40 files with long names (multi-read listings)
 *   /slow        file  qid 9   read ignores its signal and answers "late" after 300 ms
 */
import type { FileStat, Node, OpenFile, OpenMode } from '../../src/ns/types.js';
import { DMDIR, QTDIR, QTFILE } from '../../src/ns/types.js';
import { FsError } from '../../src/ns/errors.js';

export const MTIME = 1_700_000_000;

export interface TreeLog {
  opens: number;
  closes: number;
  writes: { file: string; offset: number; data: string }[];
  removed: string[];
}

function fileStat(name: string, path: bigint, mode: number, length = 0): FileStat {
  return { name, qid: { type: QTFILE, version: 0, path }, mode, length, mtime: MTIME, uid: 'taskfs', gid: 'taskfs' };
}

export class MemDir implements Node {
  readonly children = new Map<string, Node>();
  constructor(
    readonly name: string,
    readonly path: bigint,
    private readonly log: TreeLog,
  ) {}

  async stat(): Promise<FileStat> {
    return {
      name: this.name,
      qid: { type: QTDIR, version: 0, path: this.path },
      mode: DMDIR | 0o555,
      length: 0,
      mtime: MTIME,
      uid: 'taskfs',
      gid: 'taskfs',
    };
  }
  async walk(name: string): Promise<Node | undefined> {
    return this.children.get(name);
  }
  async list(): Promise<FileStat[]> {
    return Promise.all([...this.children.values()].map((c) => c.stat()));
  }
  add(name: string, node: Node): this {
    this.children.set(name, node);
    return this;
  }
  removable(name: string, node: Node): this {
    const dir = this;
    const wrapped: Node = Object.assign(Object.create(node) as Node, {
      async remove() {
        dir.children.delete(name);
        dir.log.removed.push(name);
      },
    });
    return this.add(name, wrapped);
  }
}

export class TextFile implements Node {
  constructor(
    readonly name: string,
    readonly path: bigint,
    readonly text: string,
    private readonly log: TreeLog,
  ) {}
  async stat(): Promise<FileStat> {
    return fileStat(this.name, this.path, 0o444, Buffer.byteLength(this.text));
  }
  async open(mode: OpenMode): Promise<OpenFile> {
    if (mode.write) throw new FsError('EACCES', 'read-only file');
    const data = Buffer.from(this.text);
    const log = this.log;
    log.opens++;
    return {
      async read(offset, count) {
        return data.subarray(offset, offset + count);
      },
      async write() {
        throw new FsError('EBADF', 'not open for writing');
      },
      async close() {
        log.closes++;
      },
    };
  }
}

/** Write-only: every write is recorded in the log. */
export class SinkFile implements Node {
  constructor(
    readonly name: string,
    readonly path: bigint,
    private readonly log: TreeLog,
  ) {}
  async stat(): Promise<FileStat> {
    return fileStat(this.name, this.path, 0o222);
  }
  async open(mode: OpenMode): Promise<OpenFile> {
    if (mode.read) throw new FsError('EACCES', 'write-only file');
    const log = this.log;
    const name = this.name;
    log.opens++;
    return {
      async read() {
        throw new FsError('EBADF', 'not open for reading');
      },
      async write(data, offset) {
        log.writes.push({ file: name, offset, data: data.toString() });
        return data.length;
      },
      async close() {
        log.closes++;
      },
    };
  }
}

/** A pipe-like file: reads wait until someone writes, or until their signal aborts. */
export class BlockingFile implements Node {
  private data = Buffer.alloc(0);
  private waiters = new Set<() => void>();
  /** Reads currently waiting (to check that aborts really released them). */
  waiting = 0;

  constructor(
    readonly name: string,
    readonly path: bigint,
    private readonly log: TreeLog,
  ) {}

  async stat(): Promise<FileStat> {
    return fileStat(this.name, this.path, 0o666, this.data.length);
  }

  append(text: string): void {
    this.data = Buffer.concat([this.data, Buffer.from(text)]);
    for (const w of this.waiters) w();
  }

  async open(): Promise<OpenFile> {
    const self = this;
    const log = this.log;
    log.opens++;
    return {
      async read(offset, count, signal) {
        while (self.data.length <= offset) {
          await new Promise<void>((resolve, reject) => {
            if (signal?.aborted) return reject(new FsError('EINTR', 'interrupted'));
            self.waiting++;
            const done = () => {
              self.waiting--;
              self.waiters.delete(wake);
              signal?.removeEventListener('abort', onAbort);
            };
            const wake = () => {
              done();
              resolve();
            };
            const onAbort = () => {
              done();
              reject(new FsError('EINTR', 'interrupted'));
            };
            self.waiters.add(wake);
            signal?.addEventListener('abort', onAbort, { once: true });
          });
        }
        return self.data.subarray(offset, offset + count);
      },
      async write(data, offset) {
        log.writes.push({ file: self.name, offset, data: data.toString() });
        self.append(data.toString());
        return data.length;
      },
      async close() {
        log.closes++;
      },
    };
  }
}

/** A file whose reads do not honour their AbortSignal (a misbehaving tree). */
export class SlowFile implements Node {
  constructor(
    readonly name: string,
    readonly path: bigint,
    private readonly log: TreeLog,
  ) {}
  async stat(): Promise<FileStat> {
    return fileStat(this.name, this.path, 0o444);
  }
  async open(): Promise<OpenFile> {
    const log = this.log;
    log.opens++;
    return {
      async read() {
        await new Promise((r) => setTimeout(r, 300));
        return Buffer.from('late');
      },
      async write() {
        throw new FsError('EBADF', 'not open for writing');
      },
      async close() {
        log.closes++;
      },
    };
  }
}

export interface TestTree {
  root: MemDir;
  log: TreeLog;
  block: BlockingFile;
}

export function makeTree(): TestTree {
  const log: TreeLog = { opens: 0, closes: 0, writes: [], removed: [] };
  const block = new BlockingFile('block', 4n, log);
  const sub = new MemDir('sub', 5n, log)
    .add('deep', new TextFile('deep', 6n, 'deep\n', log))
    .removable('gone', new TextFile('gone', 7n, 'bye\n', log))
    .add(
      'busy',
      Object.assign(new TextFile('busy', 10n, '', log), {
        async remove(): Promise<void> {
          throw new FsError('EBUSY', 'session 3 is still running');
        },
      }),
    );
  const many = new MemDir('many', 8n, log);
  for (let i = 0; i < 40; i++) {
    const name = `entry-${String(i).padStart(2, '0')}-${'x'.repeat(60)}`;
    many.add(name, new TextFile(name, 100n + BigInt(i), `${i}\n`, log));
  }
  const root = new MemDir('', 1n, log)
    .add('hello', new TextFile('hello', 2n, 'hello, world\n', log))
    .add('sink', new SinkFile('sink', 3n, log))
    .add('block', block)
    .add('sub', sub)
    .add('many', many)
    .add('slow', new SlowFile('slow', 9n, log));
  return { root, log, block };
}
