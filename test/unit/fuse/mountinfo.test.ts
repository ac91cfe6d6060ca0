/** The one mountinfo parser: fields by position, octal escapes undone (a space in a path is `\040`). */
import { describe, expect, it } from 'vitest';
import { parseMountinfo, readMounts } from '../../../src/fuse/mountinfo.js';

const TABLE = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro',
  '97 22 0:52 / /tmp/my\\040tasks rw,nosuid,nodev,relatime shared:50 - fuse taskfs rw,user_id=1000,group_id=1000',
  '98 22 0:53 / /tmp/tab\\011and\\134back rw,relatime - fuse.sshfs me@host:/a\\040b rw,user_id=0,group_id=0',
  '',
].join('\n');

describe('parseMountinfo', () => {
  it('reads mount point, options, type, source and superblock options', () => {
    const [root, fuse] = parseMountinfo(TABLE);
    expect(root).toEqual({
      mountpoint: '/',
      options: 'rw,relatime',
      fstype: 'ext4',
      source: '/dev/sda1',
      superOptions: 'rw,errors=remount-ro',
    });
    expect(fuse!.fstype).toBe('fuse');
    expect(fuse!.superOptions).toBe('rw,user_id=1000,group_id=1000');
  });

  it('undoes the escapes: a space, a tab and a backslash in a path', () => {
    const [, spaced, tabbed] = parseMountinfo(TABLE);
    expect(spaced!.mountpoint).toBe('/tmp/my tasks');
    expect(tabbed!.mountpoint).toBe('/tmp/tab\tand\\back');
    expect(tabbed!.source).toBe('me@host:/a b');
  });

  it('finds the optional fields end wherever they stop, and skips what is not a mount line', () => {
    const none = '30 22 0:26 / /proc rw,nosuid - proc proc rw';
    const many = '31 22 0:27 / /sys rw shared:7 master:2 propagate_from:3 - sysfs sysfs rw';
    expect(parseMountinfo(`${none}\n${many}\ngarbage\n`).map((m) => [m.mountpoint, m.fstype])).toEqual([
      ['/proc', 'proc'],
      ['/sys', 'sysfs'],
    ]);
  });

  it('reads this process’s table: / is mounted', async () => {
    expect((await readMounts()).some((m) => m.mountpoint === '/')).toBe(true);
  });
});
