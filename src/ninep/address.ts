/**
 * Dial strings for 9P endpoints. Plan 9 style (`tcp!host!port`,
 * `unix!/path`) and the usual `host:port` / `[v6]:port` are accepted;
 * formatAddress always produces the Plan 9 style, which parses back.
 */
import { FsError } from '../ns/errors.js';

export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** Service names Plan 9 users type instead of a port number. */
const services: Record<string, number> = { '9fs': 564, '9pfs': 564 };

export function parseAddress(addr: string): Address {
  const bad = (why: string): never => {
    throw new FsError('EINVAL', `bad 9P address '${addr}': ${why}`);
  };
  if (typeof addr !== 'string' || addr.trim() === '') bad('empty');
  const s = addr.trim();

  if (s.includes('!')) {
    const parts = s.split('!');
    const [net, rest] = [parts[0]!, parts.slice(1)];
    if (net === 'unix') {
      const path = rest.join('!');
      if (path === '') bad('no socket path');
      return { kind: 'unix', path };
    }
    if (net !== 'tcp' && net !== 'net') bad(`unknown network '${net}' (use tcp or unix)`);
    if (rest.length !== 2) bad('expected tcp!host!port');
    return { kind: 'tcp', host: parseHost(rest[0]!, bad), port: parsePort(rest[1]!, bad) };
  }

  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') bad('expected [v6-address]:port');
    return { kind: 'tcp', host: parseHost(s.slice(1, close), bad), port: parsePort(s.slice(close + 2), bad) };
  }
  const colon = s.lastIndexOf(':');
  if (colon < 0) bad('no port (use host:port, tcp!host!port or unix!/path)');
  const host = s.slice(0, colon);
  if (host.includes(':')) bad('IPv6 addresses need brackets: [::1]:port');
  return { kind: 'tcp', host: parseHost(host, bad), port: parsePort(s.slice(colon + 1), bad) };
}

export function formatAddress(a: Address): string {
  return a.kind === 'unix' ? `unix!${a.path}` : `tcp!${a.host}!${a.port}`;
}

function parseHost(h: string, bad: (why: string) => never): string {
  const host = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  if (host === '' || /[\s/!]/.test(host)) bad(`bad host '${h}'`);
  return host;
}

function parsePort(p: string, bad: (why: string) => never): number {
  const named = services[p];
  if (named !== undefined) return named;
  if (!/^\d{1,5}$/.test(p)) bad(`bad port '${p}'`);
  const port = Number(p);
  if (port > 65535) bad(`port ${port} out of range`);
  return port;
}
