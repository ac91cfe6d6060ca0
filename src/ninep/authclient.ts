/**
 * The client side of taskfs-auth-1 (protocol in auth.ts): prove that we
 * hold the key, then make the server prove it too, before Tattach.
 */
import { FsError, asFsError } from '../ns/errors.js';
import { clientProof, formatResponse, newNonce, parseChallenge, proofsEqual, serverProof } from './auth.js';
import type { Mux } from './mux.js';

/** Big enough for the challenge and the proof, small enough for any msize. */
const AUTH_READ = 256;

export interface AuthRequest {
  /** The dial string, for error messages. */
  addr: string;
  afid: number;
  key: Buffer;
  uname: string;
  aname: string;
}

/** Runs the exchange on `afid`; resolves once both sides have proven the key. */
export async function authenticate(mux: Mux, req: AuthRequest): Promise<void> {
  const { addr, afid, key, uname, aname } = req;
  const serverFailed = (why: string) => new FsError('EACCES', `${addr}: server failed to authenticate (${why})`);
  try {
    await mux.rpc({ type: 'Tauth', afid, uname, aname });
  } catch (err) {
    const e = asFsError(err);
    // A server without a key would take anyone: it is not the node we were given a key for.
    if (e.code === 'ENOSYS') throw serverFailed(`it answered "${e.message}"; start it with the same --key`);
    throw new FsError(e.code, `${addr}: auth: ${e.message}`);
  }
  const challenge = await mux.rpc({ type: 'Tread', fid: afid, offset: 0n, count: AUTH_READ });
  const serverNonce = parseChallenge(challenge.data.toString('latin1'));
  if (serverNonce === undefined) throw serverFailed('it does not speak taskfs-auth-1');
  const clientNonce = newNonce();
  const proof = clientProof(key, serverNonce, clientNonce, uname, aname);
  try {
    await mux.rpc({ type: 'Twrite', fid: afid, offset: 0n, data: Buffer.from(formatResponse(clientNonce, proof)) });
  } catch (err) {
    const e = asFsError(err);
    throw new FsError(
      e.code,
      `${addr}: ${e.message}${/authentication failed/.test(e.message) ? ' (is the --key the same on both ends?)' : ''}`,
    );
  }
  const answer = await mux.rpc({ type: 'Tread', fid: afid, offset: 0n, count: AUTH_READ });
  const want = serverProof(key, clientNonce, serverNonce);
  if (!proofsEqual(answer.data.toString('latin1').trim(), want)) throw serverFailed('wrong server proof');
}
