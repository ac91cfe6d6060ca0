import { describe, expect, it } from 'vitest';
import { FsError } from '../../../src/ns/errors.js';
import { formatAddress, parseAddress } from '../../../src/ninep/address.js';

describe('parseAddress', () => {
  it.each([
    ['tcp!localhost!564', { kind: 'tcp', host: 'localhost', port: 564 }],
    ['tcp!127.0.0.1!0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    ['tcp!::1!5640', { kind: 'tcp', host: '::1', port: 5640 }],
    ['tcp![::1]!5640', { kind: 'tcp', host: '::1', port: 5640 }],
    ['net!example.org!9fs', { kind: 'tcp', host: 'example.org', port: 564 }],
    ['example.org:5640', { kind: 'tcp', host: 'example.org', port: 5640 }],
    ['[::1]:564', { kind: 'tcp', host: '::1', port: 564 }],
    ['unix!/tmp/taskfs.sock', { kind: 'unix', path: '/tmp/taskfs.sock' }],
    ['unix!/tmp/odd!name', { kind: 'unix', path: '/tmp/odd!name' }],
  ])('%s', (addr, want) => {
    expect(parseAddress(addr)).toEqual(want);
    expect(parseAddress(formatAddress(parseAddress(addr)))).toEqual(want);
  });

  it.each([
    '',
    'localhost',
    'tcp!host',
    'tcp!host!port',
    'tcp!host!70000',
    'udp!host!564',
    'unix!',
    '::1:564',
    '[::1]564',
    'host:',
    ':564',
    'tcp!!564',
    'tcp!a b!1',
    'host:-1',
  ])('rejects %j with EINVAL', (addr) => {
    let err: unknown;
    try {
      parseAddress(addr);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FsError);
    expect((err as FsError).code).toBe('EINVAL');
    expect((err as FsError).message).toContain('bad 9P address');
  });
});
