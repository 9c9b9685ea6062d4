/** Clang-compiled fixtures of the VM tests (built at test time into test/.tmp/vm/). */
import { join, resolve } from 'node:path';
import { compileBpfObject } from '../support/clang.js';
import { REPO, TMP } from '../support/paths.js';

export { HAVE_CLANG } from '../support/clang.js';

/** Compile test/vm/fixtures/NAME.bpf.c with clang -O2 -g (cached by mtime); the object's path. */
export function compileFixture(name: string): string {
  return compileBpfObject(resolve(REPO, 'test/vm/fixtures', `${name}.bpf.c`), join(TMP, 'vm', `${name}.bpf.o`));
}
