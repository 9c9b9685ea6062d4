/**
 * Feature probes against bpftool's own (`bpftool feature probe kernel`):
 * the same answer for every program type and map type both know; helper
 * and link probes against what the kernel does when the feature is used.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HelperId } from '../../src/ebpf/helper-ids.js';
import { LinkType, MapType, ProgType } from '../../src/ebpf/types.js';
import { VerifierError } from '../../src/kernel/errors.js';
import { loadProgram } from '../../src/kernel/program.js';
import {
  clearProbeCache,
  fentrySupported,
  helperSupported,
  kprobesSupported,
  linkTypeSupported,
  mapTypeSupported,
  progTypeSupported,
} from '../../src/kernel/probes.js';
import { CAN_BPF, SKIP_REASON, nothingLeft } from './support/kernel.js';
import { R0, call, exit, mov64 } from './support/insns.js';

if (!CAN_BPF) describe('feature probes', () => it.skip(SKIP_REASON, () => {}));

function bpftoolFeatures(): { program_types: Record<string, boolean>; map_types: Record<string, boolean> } | undefined {
  const r = spawnSync('bpftool', ['feature', 'probe', 'kernel', '-j'], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

describe.skipIf(!CAN_BPF)('feature probes', () => {
  const tool = bpftoolFeatures();

  it.skipIf(!tool)('program types: the same answers as bpftool', () => {
    let compared = 0;
    for (const [name, type] of Object.entries(ProgType)) {
      const theirs = tool!.program_types[`have_${name.toLowerCase()}_prog_type`];
      if (theirs === undefined) continue;
      expect({ name, supported: progTypeSupported(type).supported }).toEqual({ name, supported: theirs });
      compared++;
    }
    expect(compared).toBeGreaterThan(25);
  });

  it.skipIf(!tool)('map types: the same answers as bpftool', () => {
    let compared = 0;
    for (const [name, type] of Object.entries(MapType)) {
      const theirs = tool!.map_types[`have_${name.toLowerCase()}_map_type`];
      if (theirs === undefined) continue;
      expect({ name, supported: mapTypeSupported(type).supported }).toEqual({ name, supported: theirs });
      compared++;
    }
    expect(compared).toBeGreaterThan(25);
  });

  it('helpers: the probe agrees with loading a program that calls the helper', () => {
    // bpf_get_prandom_u32 takes no arguments: a program calling it loads exactly where the helper is allowed.
    for (const type of [ProgType.SOCKET_FILTER, ProgType.XDP, ProgType.CGROUP_DEVICE, ProgType.RAW_TRACEPOINT]) {
      let loads = true;
      try {
        loadProgram({ name: 'h', type, license: 'GPL', references: [], instructions: [call(HelperId.get_prandom_u32), mov64(R0, 0), exit()] }).close();
      } catch (e) {
        if (!(e instanceof VerifierError)) throw e;
        loads = false;
      }
      expect(helperSupported(type, HelperId.get_prandom_u32).supported).toBe(loads);
    }
    expect(helperSupported(ProgType.SOCKET_FILTER, HelperId.redirect).supported).toBe(false);
    expect(helperSupported(ProgType.XDP, HelperId.redirect).supported).toBe(true);
    expect(helperSupported(ProgType.XDP, 100000).detail).toMatch(/invalid func unknown#100000/);
  });

  it('link types and attach capabilities are answered, cached and consistent with the kernel config', () => {
    clearProbeCache();
    expect(linkTypeSupported(LinkType.RAW_TRACEPOINT).supported).toBe(true);
    expect(linkTypeSupported(LinkType.CGROUP).supported).toBe(true);
    expect(linkTypeSupported(LinkType.TCX).supported).toBe(true);
    // kprobe_multi links need kprobes (fprobe): without a kprobe PMU there are none.
    if (!kprobesSupported().supported) expect(linkTypeSupported(LinkType.KPROBE_MULTI).supported).toBe(false);
    expect(fentrySupported().supported).toBe(progTypeSupported(ProgType.TRACING).supported);
    const again = linkTypeSupported(LinkType.TCX);
    expect(linkTypeSupported(LinkType.TCX)).toBe(again);
  });

  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
