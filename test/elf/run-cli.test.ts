/**
 * `bpfkit run FILE.o --program NAME` runs a program of a clang-compiled
 * object in the VM: same return value and output packet as the kernel's
 * BPF_PROG_TEST_RUN on the object libbpf loaded, globals and maps visible
 * after the run, and clear errors for a missing or ambiguous program.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileFixture, HAVE_CLANG, IS_ROOT, runCli as run, runOracle } from './support.js';

afterEach(() => vi.restoreAllMocks());

const PACKET = '00112233445566778899aabb08004500001c000000004011000000000000000000000000000000000000';

describe.skipIf(!HAVE_CLANG)('bpfkit run on ELF objects', () => {
  it.skipIf(!IS_ROOT)('gives the kernel\'s test-run result', async () => {
    const obj = compileFixture('net');
    const o = runOracle(obj, {
      runs: [
        ['sock_len', Buffer.from(PACKET, 'hex')],
        ['xdp_count', Buffer.from(PACKET, 'hex')],
      ],
    });
    for (const [i, prog] of ['sock_len', 'xdp_count'].entries()) {
      const r = await run(['run', obj, '--program', prog, '--mem', PACKET, '--json']);
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out) as { retval: number; dataOut: string };
      expect({ retval: res.retval, data: res.dataOut }, prog).toEqual({ retval: o.runs[i]!.retval, data: o.runs[i]!.data_out });
    }
    // Maps after the run: count_lengths added skb->len (42 - 14 = 28) to totals[0] and counted it in lengths.
    const legacy = await run(['run', compileFixture('legacy'), '--mem', PACKET, '--json', '--maps']);
    expect(legacy.code, legacy.err).toBe(0);
    const res = JSON.parse(legacy.out) as { retval: number; maps: Record<string, [string, string][]> };
    expect(res.retval).toBe(28);
    expect(res.maps.totals![0]).toEqual(['00000000', '1c00000000000000']);
    expect(res.maps.lengths).toEqual([['1c000000', '0100000000000000']]);
  });

  it('needs --program when the object has several, and names what it has', async () => {
    const obj = compileFixture('net');
    const several = await run(['run', obj, '--mem', PACKET]);
    expect(several.code).toBe(1);
    expect(several.err).toMatch(/several programs .*sock_len.*--program/);
    const missing = await run(['run', obj, '--program', 'nope', '--mem', PACKET]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no program 'nope'/);
  });
});
