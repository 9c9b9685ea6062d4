/**
 * The end-of-run leftovers check (attach-leftovers.setup.ts, a vitest global
 * setup) can fail: a pinned program in a private bpffs, that mount, and a
 * network namespace whose creator has exited are each reported — and no
 * longer once removed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { _internal } from './attach-leftovers.setup.js';
import { HAVE_CLANG, loadFixture } from './attach-support.js';
import { CAN_BPF, SKIP_REASON, mountBpffs } from './support/kernel.js';

const HAVE_BPFTOOL = spawnSync('bpftool', ['version']).status === 0;

describe('leftover names', () => {
  it('reads the creator pid from what bpfkit names', () => {
    expect(_internal.creator('p:bpfkit/p1234_attach_target_0x1139 /x:0x1139')).toBe(1234);
    expect(_internal.creator('bpfkit-net-5678-a')).toBe(5678);
    expect(_internal.creator('bpfkit-xdp-42-b')).toBe(42);
    expect(_internal.creator('/sys/fs/cgroup/bpfkit-test-999')).toBe(999);
    expect(_internal.creator('bpfkit-cap')).toBeUndefined();
  });

  it('knows the program and map names of the BPF sources', () => {
    const names = _internal.ourNames();
    for (const n of ['cli_getppid', 'uprobe_square', 'uretprobe_squar', 'count_malloc', 'mallocs', 'xdp_count', 'rq_complete', 'enter_execve', 'test_hash']) expect(names).toContain(n);
    expect([...names].filter((n) => n.startsWith('BPF_'))).toEqual([]);
  });
});

describe.skipIf(!CAN_BPF || !HAVE_CLANG || !HAVE_BPFTOOL)('the leftovers check, live', () => {
  it('reports a pinned program, its bpffs mount and an orphaned bpfkit namespace, then not once they are gone', () => {
    const names = _internal.ourNames();
    const before = _internal.snapshot();
    const dead = spawnSync('true').pid!;
    const ns = `bpfkit-leftcheck-${dead}`;
    const fs = mountBpffs();
    let id = 0;
    try {
      execFileSync('ip', ['netns', 'add', ns]);
      const coll = loadFixture('attach_cli', ['cli_xdp']);
      id = coll.programs.cli_xdp!.info().id;
      coll.programs.cli_xdp!.pin(`${fs.dir}/p`);
      coll.close();
      const left = _internal.leftovers(before, names);
      expect(left).toContain(`program ${id} cli_xdp`);
      expect(left).toContain(`bpffs mount ${fs.dir}`);
      expect(left).toContain(`network namespace ${ns}`);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
      fs.cleanup();
    }
    const after = _internal.leftovers(before, names);
    expect(after.filter((l) => l.includes(`program ${id} `) || l.includes(fs.dir) || l.includes(ns))).toEqual([]);
  });
});
if (!CAN_BPF) describe('the leftovers check, live', () => it.skip(SKIP_REASON, () => {}));
