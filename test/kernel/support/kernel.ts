/**
 * Shared helpers for kernel tests: whether the kernel engine can run here,
 * a private bpffs mount, counting this process's fds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IS_ROOT } from '../../support/paths.js';

/** Kernel tests need root on Linux; CI runs as root. */
export const CAN_BPF = IS_ROOT && process.platform === 'linux';
export const SKIP_REASON = 'kernel tests need root on Linux (CI runs them as root)';

/** Number of open fds of this process (/proc/self/fd), for leak checks. */
export function countFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A bpf filesystem mounted in a fresh temp dir; `cleanup()` unmounts and removes it. */
export function mountBpffs(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bpfkit-bpffs-'));
  execFileSync('mount', ['-t', 'bpf', 'bpf', dir]);
  return {
    dir,
    cleanup() {
      try {
        execFileSync('umount', [dir]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Little-endian u32 / u64 bytes. */
export const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
export const u64 = (n: number | bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
  return b;
};
export const readU32 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
export const readU64 = (b: Uint8Array, off = 0) => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);
