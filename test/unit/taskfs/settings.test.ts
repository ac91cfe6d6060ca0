import { describe, expect, it } from 'vitest';
import { parseEnv, validateSetting } from '../../../src/taskfs/settings.js';

describe('settings', () => {
  it('parses NAME=value lines, keeping = and blanks in values', () => {
    expect(parseEnv('A=1\n\n# comment\nB=x=y z\n')).toEqual({ A: '1', B: 'x=y z' });
  });

  it('refuses env lines that are not NAME=value', () => {
    expect(() => validateSetting('env', 'A=1\ngarbage')).toThrow(/not NAME=value: garbage/);
    expect(() => validateSetting('env', '1A=x')).toThrow();
  });

  it('ns knows cd DIR only', () => {
    expect(() => validateSetting('ns', 'cd /tmp')).not.toThrow();
    expect(() => validateSetting('ns', 'bind /a /b')).toThrow(/only "cd DIR"/);
    expect(() => validateSetting('ns', 'cd')).toThrow();
  });

  it('args must be well quoted', () => {
    expect(() => validateSetting('args', "echo 'a b'")).not.toThrow();
    expect(() => validateSetting('args', "echo 'a b")).toThrow(/unbalanced/);
  });
});
