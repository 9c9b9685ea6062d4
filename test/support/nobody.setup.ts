/**
 * Vitest global setup: the tests that run bpfkit as `nobody` (setpriv drops
 * every privilege, to check the "needs root" message) need nobody to reach
 * the checkout. A fresh clone made under `mktemp -d` sits in a 0700
 * directory, so for the run each directory above the repository that denies
 * others passage gets the others-execute bit (passage only: no listing, no
 * reading), and gets its mode back afterwards. The checkout's own files are
 * readable by others already (git's default umask).
 */
import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { REPO } from './paths.js';

const changed: Array<[string, number]> = [];

export function setup(): void {
  if (process.getuid?.() !== 0) return;
  for (let dir = REPO; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      changed.push([dir, mode]);
    }
    if (dirname(dir) === dir) break;
  }
}

export function teardown(): void {
  for (const [dir, mode] of changed.reverse()) chmodSync(dir, mode);
  changed.length = 0;
}
