/**
 * `--http ADDR`: where the monitor listens (README "Web monitor"). HOST:PORT,
 * [IPv6]:PORT or a bare PORT (loopback); PORT 0 takes a free one.
 */
import { isIP } from 'node:net';
import { FsError } from '../ns/errors.js';

export interface HttpAddress {
  host: string;
  port: number;
}

export function parseHttpAddress(text: string): HttpAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d+)$|^(\d+)$/.exec(text.trim());
  const port = Number(m?.[3] ?? m?.[4]);
  if (!m || !Number.isInteger(port) || port > 65535)
    throw new FsError('EINVAL', `--http wants HOST:PORT or PORT, not ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' || m[4] !== undefined ? '127.0.0.1' : host, port };
}

/** Loopback only: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** The monitor beyond loopback needs a key: anyone who reaches it could run commands. */
export function refuseOpenHttp(addr: HttpAddress, haveKey: boolean): void {
  if (haveKey || isLoopback(addr.host)) return;
  throw new FsError(
    'EACCES',
    `refusing to serve the web monitor on ${addr.host}:${addr.port} without --key: beyond loopback, whoever reaches it could run commands (give --key FILE, or --http 127.0.0.1:${addr.port})`,
  );
}

/** What to print and link to: http://HOST:PORT/ with IPv6 in brackets. */
export function httpUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`;
}
