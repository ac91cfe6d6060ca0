/**
 * taskfs-auth-1: how a 9P client and a node that share a secret key (the
 * file given with --key) prove to each other that both hold it, through
 * the 9P auth fid of attach(9P). It is a mutual challenge-response over
 * HMAC-SHA256: the key never crosses the wire, and each side signs a fresh
 * random nonce chosen by the other, so a recorded exchange is useless on a
 * new auth fid.
 *
 *   C -> S  Tauth afid uname aname
 *   S -> C  Rauth aqid                  aqid.type is QTAUTH (0x08)
 *   C -> S  Tread afid                  the afid needs no Topen
 *   S -> C  Rread "taskfs-auth-1 SN"    SN: 32 random bytes, lowercase hex
 *   C -> S  Twrite afid "CN CP"         CN: 32 random bytes of the client, hex
 *   S -> C  Rwrite                      or Rerror "authentication failed"
 *   C -> S  Tread afid
 *   S -> C  Rread "SP"                  the client checks SP before going on
 *   C -> S  Tattach fid afid uname aname
 *   S -> C  Rattach
 *   C -> S  Tclunk afid
 *
 *   CP = hex(HMAC-SHA256(key, "client\0" SN "\0" CN "\0" uname "\0" aname))
 *   SP = hex(HMAC-SHA256(key, "server\0" CN "\0" SN))
 *
 * SN and CN enter the HMAC as their 64 hex characters, uname and aname as
 * UTF-8; "\0" is one zero byte. The "client" and "server" labels keep one
 * side's proof from ever being valid as the other's.
 *
 * Rules:
 * - The auth fid is message-oriented, as in Plan 9: offsets are ignored
 *   and each read returns the current message whole (a read too small for
 *   it fails). It cannot be walked, opened or stat-ed.
 * - The server compares proofs in constant time. A wrong or malformed
 *   response fails the Twrite with "authentication failed" and poisons the
 *   auth fid: it never authenticates anything afterwards.
 * - Tattach succeeds only with an afid whose response was accepted, for
 *   the same uname and aname as its Tauth, on the same connection (a new
 *   Tversion drops it), and only once. With afid NOFID it is refused
 *   "authentication required".
 * - A server without a key answers Tauth "authentication not required"
 *   (stock 9P clients then attach with NOFID). A client holding a key
 *   refuses such a server, and one whose SP is wrong, with "server failed
 *   to authenticate": the child proves itself to the parent too.
 *
 * What it does not do: it authenticates the two ends at attach time; it
 * neither encrypts nor signs the messages that follow, so it does not stand
 * up to someone who can take over the TCP connection (use a private network
 * or a tunnel for that). Anyone who records an exchange can test guesses of
 * the key offline: use a long random key, e.g.
 * `head -c 32 /dev/urandom | base64 > key && chmod 600 key`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const AUTH_PROTOCOL = 'taskfs-auth-1';

/** Bytes of randomness in each nonce (sent as twice as many hex digits). */
export const NONCE_BYTES = 32;

const HEX64 = /^[0-9a-f]{64}$/;

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

export function clientProof(
  key: Buffer,
  serverNonce: string,
  clientNonce: string,
  uname: string,
  aname: string,
): string {
  return hmac(key, ['client', serverNonce, clientNonce, uname, aname]);
}

export function serverProof(key: Buffer, clientNonce: string, serverNonce: string): string {
  return hmac(key, ['server', clientNonce, serverNonce]);
}

/** HMAC of the parts joined by zero bytes. */
function hmac(key: Buffer, parts: string[]): string {
  return createHmac('sha256', key).update(parts.join('\0'), 'utf8').digest('hex');
}

/** Whether two hex proofs are equal, in time that does not depend on where they differ. */
export function proofsEqual(a: string, b: string): boolean {
  if (!HEX64.test(a) || !HEX64.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

export function formatChallenge(serverNonce: string): string {
  return `${AUTH_PROTOCOL} ${serverNonce}`;
}

/** The server nonce of a challenge, or undefined if it is not taskfs-auth-1. */
export function parseChallenge(text: string): string | undefined {
  const m = /^taskfs-auth-1 ([0-9a-f]{64})\n?$/.exec(text);
  return m?.[1];
}

export function formatResponse(clientNonce: string, proof: string): string {
  return `${clientNonce} ${proof}`;
}

/** The client's nonce and proof, or undefined when the text is not "CN CP". */
export function parseResponse(text: string): { clientNonce: string; proof: string } | undefined {
  const m = /^([0-9a-f]{64}) ([0-9a-f]{64})\n?$/.exec(text);
  return m === null ? undefined : { clientNonce: m[1]!, proof: m[2]! };
}
