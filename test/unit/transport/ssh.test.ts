/** ssh addresses and the ssh command line (README "SSH and hostlists"). */
import { describe, expect, it } from 'vitest';
import { parseSshAddress, sshArgv, sshChildName, type SshOptions } from '../../../src/transport/ssh.js';

const opts: SshOptions = {
  command: ['ssh', '-F', '/tmp/x/config'],
  options: ['Port=2222'],
  taskfs: 'taskfs',
  version: '1.0.0',
  readyTimeoutMs: 30_000,
};

describe('ssh addresses', () => {
  it.each([
    ['ssh!h1', { host: 'h1' }, 'h1'],
    ['ssh!alice@node07', { user: 'alice', host: 'node07' }, 'node07'],
    ['ssh!node7!2222', { host: 'node7', port: 2222 }, 'node7-2222'],
    ['ssh!root@10.0.0.1!22', { user: 'root', host: '10.0.0.1', port: 22 }, '10.0.0.1-22'],
  ])('%s', (addr, target, name) => {
    expect(parseSshAddress(addr)).toEqual({ user: undefined, port: undefined, ...target });
    expect(sshChildName(parseSshAddress(addr))).toBe(name);
  });

  it.each([
    ['ssh!', /no host/],
    ['ssh!-oProxyCommand=sh', /bad host '-oProxyCommand=sh'/],
    ['ssh!-l@h1', /bad user '-l'/],
    ['ssh!h1!0', /bad port '0'/],
    ['ssh!h1!99999', /bad port '99999'/],
    ['ssh!h1!22!x', /too many !/],
    ['ssh!h 1', /bad host/],
  ])('%s is refused', (addr, why) => {
    expect(() => parseSshAddress(addr)).toThrow(why);
  });
});

describe('sshArgv', () => {
  it('puts BatchMode first, the user options before the defaults, and -- before the host', () => {
    expect(sshArgv({ user: 'alice', host: 'h1', port: 2200 }, opts)).toEqual([
      'ssh',
      '-F',
      '/tmp/x/config',
      '-T',
      '-o',
      'BatchMode=yes',
      '-o',
      'Port=2222',
      '-o',
      'ServerAliveInterval=5',
      '-o',
      'ServerAliveCountMax=3',
      '-o',
      'ConnectTimeout=15',
      '-l',
      'alice',
      '-p',
      '2200',
      '--',
      'h1',
      "'taskfs' serve --stdio",
    ]);
  });

  it('quotes the remote taskfs path for the remote shell, leaving ~/ to expand', () => {
    const last = (taskfs: string) => sshArgv({ host: 'h' }, { ...opts, taskfs }).at(-1);
    expect(last("/opt/it's/taskfs")).toBe(`'/opt/it'\\''s/taskfs' serve --stdio`);
    expect(last('~/bin/taskfs')).toBe(`~/'bin/taskfs' serve --stdio`);
    expect(last('/a b/$(reboot)')).toBe(`'/a b/$(reboot)' serve --stdio`);
  });
});
