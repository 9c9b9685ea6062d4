/** Where things are, for tests and benches: the repo root and ../shared beside it. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED = resolve(REPO, '../shared');
export const CORPUS = resolve(SHARED, 'corpus/tcpdump-tests');
export const LIBPCAP_CONFORMANCE = resolve(SHARED, 'conformance/libpcap');
export const BPF_CONFORMANCE = resolve(SHARED, 'conformance/bpf_conformance');
/** A scratch folder for test outputs (git-ignored). */
export const TMP = resolve(REPO, 'test/.tmp');

if (!existsSync(SHARED)) {
  throw new Error(`the shared test material is missing: expected it at ${SHARED}`);
}

/** True when running as root, so kernel tests can run (CI always is). */
export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
