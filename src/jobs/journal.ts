/**
 * The scheduler's journal (README "Jobs: what survives a crash"): the only
 * writer of scheduler state on disk. Write-ahead: a record is appended and
 * fsync'd before the change it describes is answered, so a write to `tasks`
 * that returned survives `kill -9`. After HTCondor's job queue log (one
 * record per change, replayed at start, compacted into a snapshot) and GNU
 * parallel's --joblog (one line per ended task).
 *
 * File `journal` in the jobs directory, one record a line:
 *
 *   LEN CRC32 PAYLOAD\n
 *
 * LEN is PAYLOAD's length in bytes and CRC32 its checksum, both decimal; a
 * record whose length or checksum does not match (a torn tail after a
 * crash) ends the replay, and the file is cut there. PAYLOAD is Plan 9
 * quoted words, the first one saying what changed:
 *
 *   job N                          job N was made
 *   set N VERB [VALUE]             a job verb took effect (name, priority, stop, start, retries,
 *                                  timeout, need, gen, close, cancel)
 *   add N ID 'COMMAND'             task ID of job N was accepted
 *   run N ID NODE TRY START_MS     task ID started (attempt TRY) on NODE
 *   end N ID STATE NODE TRY START_MS REAL_MS 'STATUS'
 *                                  task ID ended (STATE Done, Failed, Cancelled; Queued: back in the queue)
 *   wipe N                         job N is gone
 *
 * Compaction writes the state as the records that make it (job, set, add,
 * end) to `journal.new`, fsyncs it and renames it over `journal`.
 */
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FsError } from '../ns/errors.js';
import { isAlive } from '../taskfs/node.js';
import { quote, tokenize } from '../ns/quote.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One record: its words, quoted when written. */
export type JournalRecord = readonly (string | number)[];

export function encodeRecord(words: JournalRecord): Buffer {
  const payload = Buffer.from(words.map((w) => quote(String(w))).join(' '));
  return Buffer.concat([Buffer.from(`${payload.length} ${crc32(payload)} `), payload, Buffer.from('\n')]);
}

/** The whole records at the start of `data`, and how many bytes they take (the rest is a torn tail). */
export function decodeRecords(data: Buffer): { records: string[][]; length: number } {
  const records: string[][] = [];
  const length = scanRecords(data, (words) => records.push(words));
  return { records, length };
}

/**
 * Hands each whole record at the start of `data` to `each` as it is read,
 * none kept (a restart replays a long history without holding it twice):
 * how many bytes they take.
 */
export function scanRecords(data: Buffer, each: (words: string[]) => void): number {
  let at = 0;
  while (at < data.length) {
    const head = /^(\d{1,9}) (\d{1,10}) /.exec(data.subarray(at, at + 24).toString('latin1'));
    if (!head) break;
    const start = at + head[0].length;
    const end = start + Number(head[1]);
    if (end >= data.length || data[end] !== 0x0a) break;
    const payload = data.subarray(start, end);
    if (crc32(payload) !== Number(head[2])) break;
    let words: string[];
    try {
      words = tokenize(payload.toString());
    } catch {
      break;
    }
    each(words);
    at = end + 1;
  }
  return at;
}

export class Journal {
  private pending: Buffer[] = [];
  private waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing?: Promise<void>;
  private failed?: FsError;
  /** Records appended since the last compaction. */
  appended = 0;

  private constructor(
    readonly path: string,
    private fh: FileHandle,
  ) {}

  /** Opens the journal in `dir`, after replaying every whole record into `replay` and cutting a torn tail. */
  static async open(dir: string, replay: (words: string[]) => void): Promise<Journal> {
    takeLock(join(dir, 'lock'));
    const path = join(dir, 'journal');
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      data = Buffer.alloc(0);
    }
    let count = 0;
    const length = scanRecords(data, (words) => {
      count++;
      replay(words);
    });
    const fh = await open(path, 'a');
    if (length < data.length) {
      await fh.truncate(length);
      await fh.sync();
    }
    const journal = new Journal(path, fh);
    journal.appended = count;
    return journal;
  }

  /**
   * Appends records; resolves once they are on disk (fsync'd). Records
   * appended while a sync runs share the next one (group commit). A failed
   * write fails this and every later append: state on disk no longer
   * follows memory.
   */
  append(...records: JournalRecord[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    for (const r of records) this.pending.push(encodeRecord(r));
    this.appended += records.length;
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.flushing ??= this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const data = Buffer.concat(this.pending);
      const waiting = this.waiting;
      this.pending = [];
      this.waiting = [];
      try {
        await this.fh.write(data);
        await this.fh.sync();
        for (const w of waiting) w.resolve();
      } catch (err) {
        this.failed = new FsError('EIO', `journal ${this.path}: ${(err as Error).message}`);
        for (const w of [...waiting, ...this.waiting]) w.reject(this.failed);
        this.waiting = [];
        this.pending = [];
      }
    }
    this.flushing = undefined;
  }

  /** Replaces the journal by `records` (the state as it is now), atomically. */
  async compact(records: JournalRecord[]): Promise<void> {
    await this.flushing;
    const next = `${this.path}.new`;
    const fd = openSync(next, 'w', 0o600);
    try {
      ftruncateSync(fd, 0);
      const chunk: Buffer[] = [];
      let size = 0;
      for (const r of records) {
        const b = encodeRecord(r);
        chunk.push(b);
        size += b.length;
        if (size > 1 << 20) {
          writeSync(fd, Buffer.concat(chunk));
          chunk.length = 0;
          size = 0;
        }
      }
      writeSync(fd, Buffer.concat(chunk));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(next, this.path);
    await this.fh.close();
    this.fh = await open(this.path, 'a');
    this.appended = records.length;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.fh.close().catch(() => undefined);
    rmSync(join(dirname(this.path), 'lock'), { force: true });
  }
}

/**
 * One live node per journal: the lock file holds the pid of the node using
 * it. The pid is written to a file of this process's own first and then
 * linked into place (link fails if the lock exists), so two nodes starting
 * at once cannot both take it, and a lock is never seen half made: read
 * empty, it looked like a dead node's, and a node starting beside it (ssh
 * children on one host) deleted it. A lock whose process is gone (a
 * crash), or that is this process's own, is taken over; one a live node
 * holds is EBUSY.
 */
export function takeLock(path: string): void {
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // Already ours (freeWorkdir took it at start): removing it to take it again let a node starting
      // beside us slip in between, and two nodes share a workdir.
      if (lockPid(path) === process.pid) return;
      const pid = lockHolder(path);
      if (pid !== undefined) {
        throw new FsError(
          'EBUSY',
          `jobs journal ${dirname(path)} is in use by the node with pid ${pid}: give this node another --workdir`,
        );
      }
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(mine, { force: true });
  }
  throw new FsError('EBUSY', `jobs journal lock ${path}: cannot take it`);
}

/** The pid written in the lock file at `path`; undefined when it cannot be read. */
function lockPid(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The pid of the live node (not this one) holding the lock file at `path`, if any. */
function lockHolder(path: string): number | undefined {
  const pid = lockPid(path);
  return pid !== undefined && pid > 0 && pid !== process.pid && isAlive(pid) ? pid : undefined;
}
