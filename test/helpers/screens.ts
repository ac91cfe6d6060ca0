/**
 * What the tests saw, kept for a person to look at (README "Development"):
 * test-results/screens/ in the checkout, not in git, rewritten each run.
 * The README's own picture, docs/web-monitor.png, is copied from there by
 * hand when the page changes, so a test run leaves the tree clean.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repo } from './daemon.js';

export const screensDir = join(repo, 'test-results/screens');

/** The path to save screen `name` at (the directory is made). */
export function screenPath(name: string): string {
  mkdirSync(screensDir, { recursive: true });
  return join(screensDir, name);
}

/** Keeps a terminal screen (tmux capture-pane) as text. */
export function saveScreen(name: string, text: string): void {
  writeFileSync(screenPath(name), text);
}
