/**
 * 9P carries errors as text (Rerror ename[s]); the tree carries FsError
 * codes. This is the one place that maps between them, both ways.
 *
 * Server side: a reason text is sent as is when it already reads as its
 * code (e.g. "no such session: 7" for ENOENT); otherwise the Plan 9 wording
 * is appended ("session 7 has gone: file does not exist") so that the code
 * survives the trip. With no reason, the Plan 9 wording alone is sent.
 *
 * Client side: exact strings first (ours, lib9p's, fossil's and the Unix
 * strerror texts that Linux v9fs and u9fs servers send), then a known
 * string as suffix, then keyword heuristics; anything else is EIO.
 */
import type { ErrorCode } from '../ns/errors.js';
import { FsError, asFsError } from '../ns/errors.js';

/** The wording sent when an error has no better text of its own. */
const plan9: Record<ErrorCode, string> = {
  ENOENT: 'file does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EINVAL: 'invalid argument',
  EBUSY: 'device or resource busy',
  ENOSPC: 'file system is full',
  EIO: 'i/o error',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file already exists',
  ENOTEMPTY: 'directory is not empty',
  EINTR: 'interrupted',
  EBADF: 'bad use of fid',
  EAGAIN: 'resource temporarily unavailable',
  ENOSYS: 'not implemented',
  E2BIG: 'read or write too large',
  ESRCH: 'no such process',
  ENAMETOOLONG: 'file name too long',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  EMFILE: 'too many open files',
  ECANCELED: 'operation canceled',
  EMSGSIZE: 'message too long',
  EXDEV: 'cross-device link',
};

/** Other exact texts a 9P server may send (lowercased). */
const otherStrings: [string, ErrorCode][] = [
  // lib9p and the Plan 9 kernel
  ['file not found', 'ENOENT'],
  ['unknown fid', 'EBADF'],
  ['duplicate fid', 'EBADF'],
  ['fid already in use', 'EBADF'],
  ['fid unknown or out of range', 'EBADF'],
  ['duplicate tag', 'EINVAL'],
  ['file is a directory', 'EISDIR'],
  ['walk in non-directory', 'ENOTDIR'],
  ['create prohibited', 'EPERM'],
  ['remove prohibited', 'EPERM'],
  ['wstat prohibited', 'EPERM'],
  ['not owner', 'EACCES'],
  ['bad offset', 'EINVAL'],
  ['bad offset in directory read', 'EINVAL'],
  ['authentication not required', 'ENOSYS'],
  ['directory entry not found', 'ENOENT'],
  ['file exists', 'EEXIST'],
  ['read or write too small', 'EINVAL'],
  // Unix strerror texts (u9fs, diod, v9fs-style servers)
  ['no such file or directory', 'ENOENT'],
  ['operation not permitted', 'EPERM'],
  ['input/output error', 'EIO'],
  ['interrupted system call', 'EINTR'],
  ['bad file descriptor', 'EBADF'],
  ['directory not empty', 'ENOTEMPTY'],
  ['no space left on device', 'ENOSPC'],
  ['function not implemented', 'ENOSYS'],
  ['argument list too long', 'E2BIG'],
  // taskfs-auth-1 (auth.ts) and the server's limits (connection.ts)
  ['authentication required', 'EACCES'],
  ['authentication failed', 'EACCES'],
  ['authentication not finished', 'EACCES'],
  ['authentication fid already used', 'EACCES'],
  ['too many requests in flight', 'EAGAIN'],
];

/** Keywords, tried in order when nothing matched exactly. */
const hints: [RegExp, ErrorCode][] = [
  [/permission denied/, 'EACCES'],
  [/not permitted|prohibited/, 'EPERM'],
  [/permission|\baccess\b/, 'EACCES'],
  [/already exists|file exists/, 'EEXIST'],
  [/no such process/, 'ESRCH'],
  [/does not exist|no such|not found/, 'ENOENT'],
  [/is a directory/, 'EISDIR'],
  [/not a directory|non-directory/, 'ENOTDIR'],
  [/not empty/, 'ENOTEMPTY'],
  [/interrupt/, 'EINTR'],
  [/timed out|timeout/, 'ETIMEDOUT'],
  [/name too long/, 'ENAMETOOLONG'],
  [/too many open/, 'EMFILE'],
  [/too large|too long|too big/, 'E2BIG'],
  [/\bfid\b|bad file/, 'EBADF'],
  [/temporar|try again/, 'EAGAIN'],
  [/in use|busy/, 'EBUSY'],
  [/no space|is full/, 'ENOSPC'],
  [/not implemented|not supported/, 'ENOSYS'],
  [/cancel/, 'ECANCELED'],
  [/connection|hung ?up/, 'ECONNRESET'],
  [/invalid|illegal|bad offset|\bargument/, 'EINVAL'],
  [/i\/o|input\/output/, 'EIO'],
];

const exact = new Map<string, ErrorCode>();
// EACCES precedes EPERM in `plan9`, so "permission denied" reads as EACCES.
for (const [code, text] of Object.entries(plan9) as [ErrorCode, string][]) {
  if (!exact.has(text)) exact.set(text, code);
}
for (const [text, code] of otherStrings) if (!exact.has(text)) exact.set(text, code);
const bySuffix = [...exact].sort((a, b) => b[0].length - a[0].length);

/** Reasons longer than this are cut: Plan 9 itself keeps errors under 128 bytes. */
const MAX_REASON = 512;

/** The Plan 9 wording for a code. */
export function plan9String(code: ErrorCode): string {
  return plan9[code];
}

/** The ename to send in Rerror for anything thrown. */
export function errorString(err: unknown): string {
  const e = asFsError(err);
  const wording = plan9[e.code];
  let reason = e.message.trim();
  if (reason.length > MAX_REASON) reason = `${reason.slice(0, MAX_REASON)}...`;
  if (reason === '' || reason.toLowerCase() === wording) return wording;
  if (errorCode(reason) === e.code) return reason;
  return `${reason}: ${wording}`;
}

/** The code an Rerror text stands for; EIO when it is not recognised. */
export function errorCode(ename: string): ErrorCode {
  const s = ename.trim().toLowerCase();
  const hit = exact.get(s);
  if (hit !== undefined) return hit;
  for (const [text, code] of bySuffix) {
    if (s.endsWith(text) && !/[a-z0-9]/.test(s.charAt(s.length - text.length - 1))) return code;
  }
  for (const [re, code] of hints) if (re.test(s)) return code;
  return 'EIO';
}

/** Rebuilds the tree's error from an Rerror, keeping the server's text. */
export function errorFromString(ename: string): FsError {
  return new FsError(errorCode(ename), ename);
}
