import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../../src/ns/errors.js';
import { FsError } from '../../../src/ns/errors.js';
import { errorCode, errorFromString, errorString, plan9String } from '../../../src/ninep/errstr.js';

const allCodes: ErrorCode[] = [
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
];

describe('errstr', () => {
  it('uses the Plan 9 wording when there is no better text', () => {
    expect(errorString(new FsError('ENOENT', ''))).toBe('file does not exist');
    expect(errorString(new FsError('EACCES', ''))).toBe('permission denied');
    expect(errorString(new FsError('EPERM', ''))).toBe('permission denied');
    expect(errorString(new FsError('EISDIR', ''))).toBe('is a directory');
    expect(errorString(new FsError('ENOTDIR', ''))).toBe('not a directory');
    expect(errorString(new FsError('EEXIST', ''))).toBe('file already exists');
    expect(errorString(new FsError('EINTR', ''))).toBe('interrupted');
    expect(errorString(new FsError('ENOENT', 'File Does Not Exist'))).toBe('file does not exist');
  });

  it('sends a reason as is when it already says what the code says', () => {
    expect(errorString(new FsError('ENOENT', 'no such session: 7'))).toBe('no such session: 7');
    expect(errorString(new FsError('EACCES', 'permission denied: not the owner'))).toBe(
      'permission denied: not the owner',
    );
    expect(errorString(new FsError('EBADF', 'unknown fid'))).toBe('unknown fid');
  });

  it('appends the Plan 9 wording to a reason that would not map back', () => {
    expect(errorString(new FsError('ENOENT', 'session 7 has gone'))).toBe('session 7 has gone: file does not exist');
    expect(errorString(new FsError('EIO', 'upstream said not found'))).toBe('upstream said not found: i/o error');
  });

  it('turns non-FsErrors into EIO with their text (unrecognised text already reads as EIO)', () => {
    expect(errorString(new Error('boom'))).toBe('boom');
    expect(errorString('weird')).toBe('weird');
    expect(errorString(new Error('cannot find it'))).toBe('cannot find it');
    expect(errorString(new Error('thing not found'))).toBe('thing not found: i/o error');
  });

  it('round-trips every code, whatever the reason text', () => {
    const reasons = ['', 'x', 'task 12 failed', 'permission denied', 'not found', 'a: b: c'];
    for (const code of allCodes) {
      for (const reason of reasons) {
        const back = errorCode(errorString(new FsError(code, reason)));
        // Plan 9 has one word for both; the client reads it as EACCES.
        const want = code === 'EPERM' && back === 'EACCES' ? 'EACCES' : code;
        expect([code, reason, back]).toEqual([code, reason, want]);
      }
    }
  });

  it('reads errors from other servers', () => {
    expect(errorCode('No such file or directory')).toBe('ENOENT');
    expect(errorCode('file not found')).toBe('ENOENT');
    expect(errorCode("'/x/y' file does not exist")).toBe('ENOENT');
    expect(errorCode('Operation not permitted')).toBe('EPERM');
    expect(errorCode('fid unknown or out of range')).toBe('EBADF');
    expect(errorCode('directory not empty')).toBe('ENOTEMPTY');
    expect(errorCode('walk in non-directory')).toBe('ENOTDIR');
    expect(errorCode('9pserve: authentication not required')).toBe('ENOSYS');
    expect(errorCode('read timed out')).toBe('ETIMEDOUT');
  });

  it('sends the auth and limit refusals in their own words, and reads them back', () => {
    for (const [code, text] of [
      ['EACCES', 'authentication required'],
      ['EACCES', 'authentication failed'],
      ['EACCES', 'authentication not finished'],
      ['EACCES', 'authentication fid already used'],
      ['EAGAIN', 'too many requests in flight'],
      ['EMFILE', 'too many open files'],
    ] as const) {
      expect(errorString(new FsError(code, text))).toBe(text);
      expect(errorCode(text)).toBe(code);
    }
  });

  it('keeps unknown text as EIO', () => {
    const e = errorFromString('the flux capacitor melted');
    expect(e).toBeInstanceOf(FsError);
    expect(e.code).toBe('EIO');
    expect(e.message).toBe('the flux capacitor melted');
  });

  it('has a wording for every code', () => {
    for (const code of allCodes) expect(plan9String(code)).toMatch(/^[a-z/ ]+$/);
  });
});
