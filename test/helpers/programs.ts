/**
 * The host programs a test runs. Each is listed in native-setup/programs
 * with its Debian package, and native-setup/install installs it; a test
 * that needs one calls `requirePrograms` first, so that where it is missing
 * the test fails with what to install instead of "sh: tree: not found".
 * Nothing is skipped: a missing program is a failure, in CI and out.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repo } from './daemon.js';

function packages(): Map<string, string> {
  const table = readFileSync(join(repo, 'native-setup/programs'), 'utf8');
  const byProgram = new Map<string, string>();
  for (const line of table.split('\n')) {
    const [program, pkg] = line.trim().split(/\s+/);
    if (program && pkg && !program.startsWith('#')) byProgram.set(program, pkg);
  }
  return byProgram;
}

export function onPath(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v '${program}'`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Throws, naming the packages to install, unless every program is on PATH. */
export function requirePrograms(...programs: string[]): void {
  const table = packages();
  const unlisted = programs.filter((p) => !table.has(p));
  if (unlisted.length > 0) throw new Error(`test needs ${unlisted.join(', ')}: add it to native-setup/programs`);
  const missing = programs.filter((p) => !onPath(p));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((p) => table.get(p)!))].join(' ');
  throw new Error(
    `test needs ${missing.join(', ')}, not installed: run native-setup/install (apt-get install ${pkgs})`,
  );
}
