/**
 * A leaf's mailbox, `mbox/TAG` (README "Co-allocation"), after DUROC's
 * send and receive: one write is one message of that tag; a read takes the
 * oldest message of its tag whole, waiting for one; other tags wait their
 * turn. Memory is bounded per leaf: a full box refuses the sender.
 */
import { FsError } from '../ns/errors.js';
import { park, wakeAll } from '../ns/park.js';
import { makeStat, qid } from '../ns/synthetic.js';
import type { Node, OpenFile } from '../ns/types.js';

/** One message, at most: a 9P write of the default msize carries it whole. */
export const MESSAGE_MAX_BYTES = 64 * 1024;
/** Bytes queued in one leaf's mailbox, every tag together. */
export const MAILBOX_MAX_BYTES = 4 * 1024 * 1024;
/** Messages queued in one leaf's mailbox (many tiny ones cost more than their bytes). */
export const MAILBOX_MAX_MESSAGES = 4096;
/** Qid paths of mailbox entries, beside session qids (serial << 8 | index) and auth qids (1 << 62). */
const MBOX_QID_BASE = 1n << 60n;

export class Mailbox {
  private readonly queues = new Map<string, Buffer[]>();
  private bytes = 0;
  private messages = 0;
  private readonly waiters = new Set<() => void>();
  private readonly tagNumbers = new Map<string, number>();

  constructor(
    /** Names the owner in errors: "rank 3 (cmd/5)". */
    private readonly owner: () => string,
  ) {}

  post(tag: string, data: Buffer): void {
    if (data.length > MESSAGE_MAX_BYTES)
      throw new FsError(
        'EMSGSIZE',
        `mbox/${tag}: a message is one write of at most ${MESSAGE_MAX_BYTES} bytes, not ${data.length}`,
      );
    if (this.bytes + data.length > MAILBOX_MAX_BYTES || this.messages >= MAILBOX_MAX_MESSAGES)
      throw new FsError(
        'ENOSPC',
        `mbox/${tag}: the mailbox of ${this.owner()} is full (${this.messages} messages, ${this.bytes} bytes waiting to be read)`,
      );
    const queue = this.queues.get(tag) ?? [];
    queue.push(Buffer.from(data)); // the caller's buffer may be reused
    this.queues.set(tag, queue);
    this.bytes += data.length;
    this.messages++;
    wakeAll(this.waiters);
  }

  /** The oldest message of `tag`, waiting for one; an interrupted wait takes nothing. */
  async take(tag: string, signal?: AbortSignal): Promise<Buffer> {
    for (;;) {
      const queue = this.queues.get(tag);
      const message = queue?.shift();
      if (message) {
        if (queue!.length === 0) this.queues.delete(tag);
        this.bytes -= message.length;
        this.messages--;
        return message;
      }
      await park(this.waiters, (wake) => wake, signal);
    }
  }

  /** Tags with messages waiting, for a listing. */
  tags(): string[] {
    return [...this.queues.keys()];
  }

  clear(): void {
    this.queues.clear();
    this.bytes = 0;
    this.messages = 0;
  }

  tagNumber(tag: string): number {
    let n = this.tagNumbers.get(tag);
    if (n === undefined) this.tagNumbers.set(tag, (n = this.tagNumbers.size + 1));
    return n;
  }
}

export interface MailboxOwner {
  readonly serial: number;
  /** The box, or why this session has none (an inner session). */
  mailbox(): Mailbox;
}

/** `mbox/`: any name walks to a tag file; the listing shows tags with messages waiting. */
export function mboxDir(owner: MailboxOwner, dirQid: bigint): Node {
  const tagFile = (tag: string): Node => {
    const q = qid(MBOX_QID_BASE | (BigInt(owner.serial) << 24n) | BigInt(owner.mailbox().tagNumber(tag) & 0xffffff));
    return {
      stat: async () => makeStat(tag, q, 0o660),
      open: async () => tagHandle(owner, tag),
    };
  };
  const dir: Node = {
    stat: async () => makeStat('mbox', qid(dirQid, true), 0o770),
    walk: async (name) => {
      checkTag(name);
      return tagFile(name);
    },
    list: async () => {
      const tags = owner.mailbox().tags();
      return Promise.all(tags.map((t) => tagFile(t).stat()));
    },
  };
  return dir;
}

/** A tag is one path element: no slash, no NUL, not `.` or `..`. */
export function checkTag(tag: string): void {
  if (tag === '' || tag === '.' || tag === '..' || /[/\0]/.test(tag))
    throw new FsError('EINVAL', `mbox: bad tag ${JSON.stringify(tag)}: a tag is a name without slash or NUL`);
}

/** One open of `mbox/TAG`: its first read takes a message, later reads serve it by offset. */
function tagHandle(owner: MailboxOwner, tag: string): OpenFile {
  let message: Buffer | undefined;
  return {
    read: async (offset, count, signal) => {
      message ??= await owner.mailbox().take(tag, signal);
      return message.subarray(Math.min(offset, message.length), Math.min(offset + count, message.length));
    },
    write: async (data) => {
      owner.mailbox().post(tag, data);
      return data.length;
    },
    close: async () => undefined,
  };
}
