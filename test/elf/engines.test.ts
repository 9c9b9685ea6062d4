/**
 * The same CollectionSpec in both engines: bpfkit's kernel engine (src/kernel)
 * loads each fixture's spec — maps, global data, BTF (with func_info and
 * line_info), prog array and map-in-map entries — and its test runs match the
 * kernel running libbpf's copy of the object, and the VM where the VM can run
 * the program.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgType } from '../../src/ebpf/types.js';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { loadCollection } from '../../src/kernel/index.js';
import { Vm } from '../../src/vm/index.js';
import { compileFixture, HAVE_CLANG, IS_ROOT, runOracle } from './support.js';

const PACKETS = [
  Buffer.from('00112233445566778899aabb08004500001c000000004011000000000000000000000000000000000000', 'hex'),
  Buffer.alloc(200, 0xa5),
];
const RUNNABLE = new Set<number>([ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.XDP]);

describe.skipIf(!HAVE_CLANG || !IS_ROOT)('ELF specs in the kernel engine', () => {
  let pins = '';
  beforeAll(() => {
    pins = mkdtempSync(join(tmpdir(), 'bpfkit-elf-engines-'));
    execFileSync('mount', ['-t', 'bpf', 'bpf', pins]);
  });
  afterAll(() => {
    spawnSync('umount', [pins]);
    rmSync(pins, { recursive: true, force: true });
  });

  it.each([
    ['net', true],
    ['legacy', true],
    ['externs', false], // the VM has no kfuncs
    ['weak', false],
  ] as const)('%s.bpf.c: loads, and test-runs like libbpf\'s copy (VM too: %s)', (fixture, vmToo) => {
    const obj = compileFixture(fixture);
    const spec = loadCollectionSpec(obj);
    const runs: [string, Uint8Array][] = [];
    for (const pkt of PACKETS) for (const p of Object.values(spec.programs)) if (RUNNABLE.has(p.type)) runs.push([p.name, pkt]);
    const o = runOracle(obj, { runs });
    const kernel = loadCollection(spec, { pinPath: pins });
    const vm = vmToo ? new Vm().loadCollection(spec) : undefined;
    try {
      runs.forEach(([name, data], i) => {
        const k = kernel.programs[name]!.testRun({ data });
        const want = { retval: o.runs[i]!.retval, data: o.runs[i]!.data_out };
        expect({ retval: k.retval, data: Buffer.from(k.dataOut).toString('hex') }, `kernel engine: ${name}`).toEqual(want);
        if (vm) {
          const v = vm.programs[name]!.testRun({ data });
          expect({ retval: v.retval, data: Buffer.from(v.dataOut).toString('hex') }, `VM: ${name}`).toEqual(want);
        }
      });
    } finally {
      kernel.close();
      vm?.close();
    }
    expect(runs.length).toBeGreaterThan(0);
  });

  it('core.bpf.c: the CO-RE-relocated tracepoint program loads in the kernel engine', () => {
    const spec = loadCollectionSpec(compileFixture('core'));
    const kernel = loadCollection(spec);
    try {
      expect(Object.keys(kernel.programs)).toEqual(['read_task']);
    } finally {
      kernel.close();
    }
  });
});
