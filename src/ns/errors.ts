/**
 * The one error type of the tree. Both front ends map `code` once:
 * FUSE to a negative errno (src/fuse/errno.ts), 9P to a Plan 9 string
 * (src/ninep/errstr.ts). `message` is the human reason, kept for `err`.
 */
export type ErrorCode =
  | 'ENOENT'
  | 'EACCES'
  | 'EPERM'
  | 'EINVAL'
  | 'EBUSY'
  | 'ENOSPC'
  | 'EIO'
  | 'EISDIR'
  | 'ENOTDIR'
  | 'EEXIST'
  | 'ENOTEMPTY'
  | 'EINTR'
  | 'EBADF'
  | 'EAGAIN'
  | 'ENOSYS'
  | 'E2BIG'
  | 'ESRCH'
  | 'ENAMETOOLONG'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EMFILE'
  | 'ECANCELED'
  | 'EMSGSIZE'
  | 'EXDEV';

export class FsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'FsError';
    this.code = code;
  }
}

/** Turn anything thrown into an FsError, keeping its text. */
export function asFsError(err: unknown, fallback: ErrorCode = 'EIO'): FsError {
  if (err instanceof FsError) return err;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return new FsError(isErrorCode(code) ? code : fallback, err.message);
  }
  return new FsError(fallback, String(err));
}

const codes = new Set<string>([
  'ENOENT',
  'EACCES',
  'EPERM',
  'EINVAL',
  'EBUSY',
  'ENOSPC',
  'EIO',
  'EISDIR',
  'ENOTDIR',
  'EEXIST',
  'ENOTEMPTY',
  'EINTR',
  'EBADF',
  'EAGAIN',
  'ENOSYS',
  'E2BIG',
  'ESRCH',
  'ENAMETOOLONG',
  'ECONNRESET',
  'ETIMEDOUT',
  'EMFILE',
  'ECANCELED',
  'EMSGSIZE',
  'EXDEV',
]);

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && codes.has(code);
}
