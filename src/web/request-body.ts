/**
 * Bodies of actions: at most MAX_BODY_BYTES (a job of many tasks fits; a
 * runaway upload gets 413 and changes nothing), JSON for the API, a form
 * for the login.
 */
import type { IncomingMessage } from 'node:http';
import { FsError } from '../ns/errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Past the limit the rest is read and dropped up to this, so the client gets the 413 and not a reset. */
const DRAIN_BYTES = 64 * 1024 * 1024;

export function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.reject(tooBig(req));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      parts.push(chunk);
      if (size <= MAX_BODY_BYTES) return;
      req.off('data', onData).off('end', onEnd);
      reject(tooBig(req));
    };
    const onEnd = () => resolve(Buffer.concat(parts));
    req.on('data', onData).on('end', onEnd).on('error', reject);
  });
}

/** The API's bodies: a JSON object, sent as application/json (which a cross-site form cannot send). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
    throw new FsError('EINVAL', 'actions take a JSON body (Content-Type: application/json)');
  const text = (await readBody(req)).toString();
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new FsError('EINVAL', `bad JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FsError('EINVAL', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req)).toString());
}

function tooBig(req: IncomingMessage): FsError {
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_BYTES) req.destroy();
  });
  req.resume();
  return new FsError('E2BIG', `request body over ${MAX_BODY_BYTES} bytes`);
}
