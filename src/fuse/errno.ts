import { constants } from 'node:os';
import { asFsError } from '../ns/errors.js';

/** The one place a tree error becomes a FUSE answer: a negative errno. */
export function toErrno(err: unknown): number {
  const code = asFsError(err).code;
  return -((constants.errno as Record<string, number>)[code] ?? constants.errno.EIO);
}
