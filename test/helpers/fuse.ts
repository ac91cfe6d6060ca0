/**
 * Whether FUSE suites can run here. They may skip only where FUSE is
 * missing, and never in CI: there a missing FUSE fails the suite.
 */
import { accessSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';

function fuseProblem(): string | undefined {
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/fuse is missing';
  }
  try {
    if (!/libfuse\.so\.2/.test(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })))
      return 'libfuse.so.2 is missing';
  } catch {
    return 'ldconfig failed';
  }
  return undefined;
}

export const fuseMissing = fuseProblem();

if (fuseMissing && process.env.CI === 'true') {
  throw new Error(`FUSE suites must run in CI, but ${fuseMissing}: run native-setup/install`);
}
