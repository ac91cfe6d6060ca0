/**
 * Copies between a local file and an open tree file (a remote file over 9P,
 * mostly), streamed: a few chunks in flight at once, so a copy of any size
 * costs WINDOW chunks of memory and round trips overlap.
 */
import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';
import { asFsError } from './errors.js';
import type { OpenFile } from './types.js';

/** Chunks in flight: enough to keep a loopback or LAN link busy. */
const WINDOW = 8;
const DEFAULT_CHUNK = 64 * 1024;

/** The largest payload the file takes in one message, when it says (RemoteFile.iounit). */
function chunkSize(file: OpenFile): number {
  const iounit = (file as { iounit?: number }).iounit;
  return typeof iounit === 'number' && iounit > 0 ? iounit : DEFAULT_CHUNK;
}

/**
 * Runs `step(i)` for i = 0, 1, ... with at most WINDOW running, until a step
 * says it is the last (returns false). The first failure stops new steps and
 * is thrown once the running ones have settled.
 */
async function windowed(step: (offset: number) => Promise<boolean>, chunk: number): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  let more = true;
  for (let offset = 0; more && failure === undefined; offset += chunk) {
    const p: Promise<void> = step(offset).then(
      (again) => {
        if (!again) more = false;
      },
      (err: unknown) => {
        failure ??= err;
      },
    );
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= WINDOW) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw asFsError(failure);
}

/** The local file at `path` into `file` from offset 0; returns the bytes sent. */
export async function sendFile(path: string, file: OpenFile, size: number): Promise<number> {
  const fh = await open(path, fsc.O_RDONLY).catch((err: unknown) => {
    throw asFsError(err);
  });
  const chunk = chunkSize(file);
  try {
    await windowed(async (offset) => {
      if (offset >= size) return false;
      const buf = Buffer.allocUnsafe(Math.min(chunk, size - offset));
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead > 0) await file.write(buf.subarray(0, bytesRead), offset);
      return offset + chunk < size;
    }, chunk);
  } finally {
    await fh.close();
  }
  return size;
}

/** All of `file` into a new local file at `path` (replaced if there); returns the bytes received. */
export async function receiveFile(file: OpenFile, path: string): Promise<number> {
  const fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o644).catch((err: unknown) => {
    throw asFsError(err);
  });
  const chunk = chunkSize(file);
  let total = 0;
  try {
    await windowed(async (offset) => {
      const data = await file.read(offset, chunk);
      let done = 0;
      while (done < data.length) done += (await fh.write(data, done, data.length - done, offset + done)).bytesWritten;
      total += data.length;
      return data.length === chunk;
    }, chunk);
  } finally {
    await fh.close();
  }
  return total;
}
