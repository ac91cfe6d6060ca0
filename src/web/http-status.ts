/** The one mapping of the tree's errors onto HTTP (STYLE: one error type, mapped once per front end). */
import type { ErrorCode } from '../ns/errors.js';

export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case 'ENOENT':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    case 'EINVAL':
      return 400;
    case 'EBUSY':
    case 'EEXIST':
      return 409;
    case 'E2BIG':
      return 413;
    default:
      return 500;
  }
}
