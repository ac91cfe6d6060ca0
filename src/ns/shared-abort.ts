/**
 * An AbortController whose signal many pending operations listen to at
 * once (one read per child of a session, say): Node warns past ten
 * listeners on one signal, which here is the design, not a leak.
 */
import { setMaxListeners } from 'node:events';

export function sharedAbort(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}
