/**
 * An environment encoded once for the process server's spawn frames
 * (`KEY=VALUE` strings, each NUL-terminated, as the frame carries them).
 * The leaves of one launch share almost all of their environment: encoding
 * it once, not once per leaf, is most of what a spawn cost the daemon.
 */
export interface EnvBlock {
  readonly bytes: Buffer;
  readonly count: number;
  /** A key or value holds a NUL: no process can be given it (the spawn is refused). */
  readonly hasNul: boolean;
}

export function encodeEnv(env: Readonly<Record<string, string>>): EnvBlock {
  let text = '';
  let count = 0;
  let hasNul = false;
  for (const [k, v] of Object.entries(env)) {
    if (k.includes('\0') || v.includes('\0')) hasNul = true;
    text += `${k}=${v}\0`;
    count++;
  }
  return { bytes: Buffer.from(text), count, hasNul };
}
