/**
 * Open-file objects shared by every synthetic file: a snapshot of text made
 * once per open (a reader never sees a torn line), and the refusals.
 */
import { FsError } from './errors.js';
import type { OpenFile } from './types.js';

export type WriteHandler = (data: Buffer, offset: number, signal?: AbortSignal) => Promise<void> | void;

export interface TextHandleOptions {
  /** Text served to readers, made once when the handle opens. */
  text?: string | Buffer;
  /** Writes go here; absent means the file is read only. */
  write?: WriteHandler;
  onClose?: () => Promise<void> | void;
}

export function textHandle(opts: TextHandleOptions): OpenFile {
  const content = typeof opts.text === 'string' ? Buffer.from(opts.text) : (opts.text ?? Buffer.alloc(0));
  let closed = false;
  return {
    async read(offset, count) {
      return content.subarray(Math.min(offset, content.length), Math.min(offset + count, content.length));
    },
    async write(data, offset, signal) {
      if (!opts.write) throw new FsError('EACCES', 'permission denied: read only');
      await opts.write(data, offset, signal);
      return data.length;
    },
    async close() {
      if (closed) return;
      closed = true;
      await opts.onClose?.();
    },
  };
}

/**
 * All of a snapshot file (status, topology): its text is made once per open
 * and served by offset, so a read that returns less than `unit` has reached
 * the end, and the zero-length read that would confirm it is not sent (over
 * 9P, one round trip less).
 */
export async function readSnapshot(file: OpenFile): Promise<Buffer> {
  const unit = file.iounit ?? 64 * 1024;
  const parts: Buffer[] = [];
  for (let offset = 0; ; ) {
    const data = await file.read(offset, unit);
    parts.push(data);
    offset += data.length;
    if (data.length < unit) return Buffer.concat(parts);
  }
}

/** A snapshot file's whole text; the file is closed without waiting (a remote clunk need not be: one round trip less). */
export async function snapshotText(file: OpenFile): Promise<string> {
  try {
    return (await readSnapshot(file)).toString();
  } finally {
    void file.close();
  }
}
