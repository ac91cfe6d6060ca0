/**
 * The mount table of this process's namespace, /proc/self/mountinfo
 * (proc(5)): one parser for whoever asks whether a path is mounted and how.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  /** Where it is mounted, unescaped (a space is `\040` in the file). */
  mountpoint: string;
  /** Per-mount options: `rw,nosuid,nodev,relatime`. */
  options: string;
  fstype: string;
  source: string;
  /** Per-superblock options: for FUSE `user_id=...,group_id=...` and `allow_other`. */
  superOptions: string;
}

const MOUNTINFO = '/proc/self/mountinfo';

/**
 * `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`:
 * ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 6 || dash < 0) continue;
    entries.push({
      mountpoint: unescapeOctal(fields[4]!),
      options: fields[5]!,
      fstype: unescapeOctal(fields[dash + 1] ?? ''),
      source: unescapeOctal(fields[dash + 2] ?? ''),
      superOptions: fields[dash + 3] ?? '',
    });
  }
  return entries;
}

/** The kernel writes space, tab, newline and backslash as `\ooo`. */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile(MOUNTINFO, 'utf8').catch(() => ''));
}

/** As readMounts, for exit handlers and scripts that cannot wait. */
export function readMountsSync(): MountEntry[] {
  try {
    return parseMountinfo(readFileSync(MOUNTINFO, 'utf8'));
  } catch {
    return [];
  }
}

export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await readMounts()).some((m) => m.mountpoint === mountpoint);
}
