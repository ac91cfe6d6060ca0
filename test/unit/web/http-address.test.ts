// `--http ADDR` and who may be refused (README "Web monitor", security).
import { describe, expect, it } from 'vitest';
import { httpUrl, isLoopback, parseHttpAddress, refuseOpenHttp } from '../../../src/web/http-address.js';
import { httpStatus } from '../../../src/web/http-status.js';

describe('--http ADDR', () => {
  it('takes HOST:PORT, [IPv6]:PORT and a bare PORT (loopback)', () => {
    expect(parseHttpAddress('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpAddress('0.0.0.0:0')).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseHttpAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseHttpAddress('localhost:9')).toEqual({ host: 'localhost', port: 9 });
    expect(parseHttpAddress('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpAddress(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', 'host', 'host:', 'h:99999', 'tcp!h!1', 'a b:1'])
      expect(() => parseHttpAddress(bad), bad).toThrow(/--http wants HOST:PORT/);
  });

  it('beyond loopback only with a key', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', '::', 'example.org']) expect(isLoopback(h), h).toBe(false);
    expect(() => refuseOpenHttp({ host: '0.0.0.0', port: 1 }, false)).toThrow(/without --key/);
    expect(() => refuseOpenHttp({ host: '0.0.0.0', port: 1 }, true)).not.toThrow();
    expect(() => refuseOpenHttp({ host: '127.0.0.1', port: 1 }, false)).not.toThrow();
  });

  it('prints IPv6 in brackets', () => {
    expect(httpUrl('::1', 80)).toBe('http://[::1]:80/');
    expect(httpUrl('127.0.0.1', 80)).toBe('http://127.0.0.1:80/');
  });

  it('maps the tree errors onto HTTP once', () => {
    expect([httpStatus('ENOENT'), httpStatus('EACCES'), httpStatus('EINVAL'), httpStatus('EBUSY')]).toEqual([
      404, 403, 400, 409,
    ]);
    expect(httpStatus('E2BIG')).toBe(413);
    expect(httpStatus('EIO')).toBe(500);
  });
});
