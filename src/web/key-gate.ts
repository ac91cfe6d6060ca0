/**
 * The monitor's key (README "Web monitor", security): with `--key`, the page
 * asks for the key once and sets an HttpOnly cookie holding an HMAC of the
 * key under a secret made at start, never the key itself. The cookie is
 * good until the node restarts; every API call without it answers 401.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const COOKIE = 'taskfs_web';

export class KeyGate {
  private readonly secret = randomBytes(32);
  private readonly token?: Buffer;

  constructor(private readonly key?: Buffer) {
    if (key) this.token = this.mac(key);
  }

  get required(): boolean {
    return this.key !== undefined;
  }

  /** True without a key, else when the request carries the cookie. */
  admits(req: IncomingMessage): boolean {
    if (!this.token) return true;
    const given = cookieValue(req.headers.cookie ?? '', COOKIE);
    if (!given || !/^[0-9a-f]{64}$/.test(given)) return false;
    return timingSafeEqual(Buffer.from(given, 'hex'), this.token);
  }

  /** Whether `typed` is the key (the key file's content, less a trailing newline, as for 9P). */
  matches(typed: string): boolean {
    if (!this.token) return true;
    return timingSafeEqual(this.mac(Buffer.from(typed.replace(/\r?\n$/, ''))), this.token);
  }

  /** The Set-Cookie value after a good login. */
  cookie(): string {
    return `${COOKIE}=${this.token!.toString('hex')}; HttpOnly; SameSite=Strict; Path=/`;
  }

  static clearCookie(): string {
    return `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  private mac(data: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(data).digest();
  }
}

function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
