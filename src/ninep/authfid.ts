/**
 * The server side of taskfs-auth-1 (protocol in auth.ts): one conversation
 * per auth fid, and the checks Tauth and Tattach make.
 */
import { FsError } from '../ns/errors.js';
import { clientProof, formatChallenge, newNonce, parseResponse, proofsEqual, serverProof } from './auth.js';
import { NOFID, QTAUTH } from './constants.js';
import type { ConnState } from './fid.js';
import { Fid, roomForFid } from './fid.js';
import type { Msg, Untagged } from './messages.js';

type Phase = 'challenge' | 'proven' | 'failed' | 'used';

const failed = () => new FsError('EACCES', 'authentication failed');

export class AuthConversation {
  private phase: Phase = 'challenge';
  /** Fresh per auth fid: this is what makes a recorded response useless. */
  private readonly serverNonce = newNonce();
  private proofForClient = '';

  constructor(
    private readonly key: Buffer,
    readonly uname: string,
    readonly aname: string,
  ) {}

  /** A wrong response was written: this auth fid authenticates nothing, ever. */
  get poisoned(): boolean {
    return this.phase === 'failed';
  }

  /** The current message, whole: the challenge, then (once proven) the server's proof. */
  read(count: number): Buffer {
    if (this.phase === 'failed') throw failed();
    const data = Buffer.from(this.phase === 'challenge' ? formatChallenge(this.serverNonce) : this.proofForClient);
    // Message-oriented: half a nonce is of no use to anyone.
    if (count < data.length) throw new FsError('EINVAL', 'read or write too small');
    return data;
  }

  /** The client's "CN CP"; anything but the right proof poisons the conversation. */
  write(data: Buffer): number {
    if (this.phase === 'failed') throw failed();
    if (this.phase !== 'challenge') throw new FsError('EINVAL', 'authentication already done');
    const r = parseResponse(data.toString('latin1'));
    const want = r && clientProof(this.key, this.serverNonce, r.clientNonce, this.uname, this.aname);
    if (r === undefined || !proofsEqual(r.proof, want!)) {
      this.phase = 'failed';
      throw failed();
    }
    this.proofForClient = serverProof(this.key, r.clientNonce, this.serverNonce);
    this.phase = 'proven';
    return data.length;
  }

  /** Lets one Tattach through: proven, for the same uname and aname, and only once. */
  admit(uname: string, aname: string): void {
    switch (this.phase) {
      case 'challenge':
        throw new FsError('EACCES', 'authentication not finished');
      case 'failed':
        throw failed();
      case 'used':
        throw new FsError('EACCES', 'authentication fid already used');
      case 'proven':
        break;
    }
    if (uname !== this.uname || aname !== this.aname) {
      throw new FsError('EACCES', 'authentication was for another user or tree');
    }
    this.phase = 'used';
  }
}

/** Auth qids: unique, never 0, and far from the tree's own paths. */
let authPaths = 0n;
const AUTH_PATH_BASE = 1n << 62n;

export function auth(s: ConnState, msg: Msg<'Tauth'>): Untagged<Msg<'Rauth'>> {
  if (s.auth === undefined) throw new FsError('ENOSYS', 'authentication not required');
  if (msg.afid === NOFID) throw new FsError('EBADF', 'bad use of fid');
  if (s.fids.has(msg.afid)) throw new FsError('EBADF', 'fid already in use');
  roomForFid(s);
  const aqid = { type: QTAUTH, version: 0, path: AUTH_PATH_BASE + ++authPaths };
  s.fids.set(msg.afid, new Fid([], aqid, new AuthConversation(s.auth.key, msg.uname, msg.aname)));
  return { type: 'Rauth', aqid };
}

export function authRead(f: Fid, count: number): Untagged<Msg<'Rread'>> {
  return { type: 'Rread', data: f.auth!.read(count) };
}

export function authWrite(s: ConnState, f: Fid, data: Buffer): Untagged<Msg<'Rwrite'>> {
  const conv = f.auth!;
  const before = conv.poisoned;
  try {
    return { type: 'Rwrite', count: conv.write(data) };
  } catch (err) {
    // Warn once per failed exchange, not for every poke at the dead fid.
    if (!before && conv.poisoned) s.auth?.refused(`authentication failed for user ${JSON.stringify(conv.uname)}`);
    throw err;
  }
}

/**
 * Whether a Tattach may go on. Without a key, only afid NOFID; with one,
 * only through an auth fid that has finished for this uname and aname,
 * which it uses up.
 */
export function admitAttach(s: ConnState, msg: Msg<'Tattach'>): void {
  if (s.auth === undefined) {
    if (msg.afid !== NOFID) throw new FsError('ENOSYS', 'authentication not required');
    return;
  }
  if (msg.afid === NOFID) {
    s.auth.refused(`attach as user ${JSON.stringify(msg.uname)} without authentication`);
    throw new FsError('EACCES', 'authentication required');
  }
  const conv = s.fids.get(msg.afid)?.auth;
  if (conv === undefined) throw new FsError('EBADF', 'afid is not an authentication fid');
  conv.admit(msg.uname, msg.aname);
}
