/** The text settings of a session (args, env, ns) and the node env: parsing and checking. */
import { FsError } from '../ns/errors.js';
import { tokenize } from '../ns/quote.js';

export type SettingName = 'args' | 'env' | 'ns';

const envLine = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** NAME=value lines; blank lines and # comments are allowed. */
export function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines(text)) {
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export function validateSetting(name: SettingName, text: string): void {
  // A NUL cannot reach a process (argv and environ are C strings): refuse it here, not at every exec.
  if (text.includes('\0'))
    throw new FsError(
      'EINVAL',
      `${name}: a NUL byte cannot be part of ${name === 'env' ? 'the environment' : 'a command'}`,
    );
  if (name === 'args') {
    tokenize(text.replace(/\n/g, ' '));
    return;
  }
  for (const line of lines(text)) {
    if (name === 'env' && !envLine.test(line)) throw new FsError('EINVAL', `env: not NAME=value: ${line}`);
    if (name === 'ns') {
      const words = tokenize(line);
      if (words[0] !== 'cd' || words.length !== 2)
        throw new FsError('EINVAL', `ns: unknown line (only "cd DIR"): ${line}`);
    }
  }
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
