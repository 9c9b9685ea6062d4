/**
 * The parts of the kernel engine that need no BPF privileges: the system
 * layer's plain calls (checked against what /proc and /sys say), CPU lists,
 * the verifier-log reader on the log shapes the kernel prints, the BTF
 * string table handling, and the error messages.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/ebpf/engine.js';
import { btfStrings, withStrings } from '../../src/kernel/btf-load.js';
import { parseCpuList, possibleCpus } from '../../src/kernel/cpus.js';
import { KernelError, PermissionError, VerifierError, kernelError } from '../../src/kernel/errors.js';
import { objectName } from '../../src/kernel/map.js';
import { parseObjectRef } from '../../src/kernel/objects.js';
import { pinName } from '../../src/kernel/pin.js';
import * as sys from '../../src/kernel/sys.js';
import { parseVerifierLog } from '../../src/kernel/verifier-log.js';
import { encodeBtf } from './support/btf.js';

const linux = process.platform === 'linux';

describe.skipIf(!linux)('system layer', () => {
  it('if_nametoindex agrees with sysfs; an unknown interface is 0', () => {
    expect(sys.ifNameToIndex('lo')).toBe(Number(readFileSync('/sys/class/net/lo/ifindex', 'utf8')));
    expect(sys.ifNameToIndex('bpfkit_none0')).toBe(0);
  });

  it('getpid is this process; close of a bad fd is -EBADF', () => {
    expect(sys.getpid()).toBe(process.pid);
    expect(sys.close(0x7ffffff0)).toBe(-Errno.EBADF);
  });

  it('mmap gives a zero-copy view; munmap releases it', () => {
    const MAP_PRIVATE_ANON = 0x02 | 0x20;
    const addr = sys.mmap(8192, sys.PROT_READ | sys.PROT_WRITE, MAP_PRIVATE_ANON, -1, 0);
    expect(addr).toBeGreaterThan(0);
    const a = new Uint8Array(sys.viewAt(addr, 8192));
    const b = new Uint8Array(sys.viewAt(addr, 8192));
    a[100] = 42;
    expect(b[100]).toBe(42);
    expect(sys.munmap(addr, 8192)).toBe(0);
    expect(sys.mmap(1 << 20, sys.PROT_READ, sys.MAP_SHARED, 0x7ffffff0, 0)).toBe(-Errno.EBADF);
  });

  it('sockets: a non-blocking recv on an empty socket is -EAGAIN; poll sees nothing ready', () => {
    const s = sys.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0);
    expect(s).toBeGreaterThan(0);
    const buf = new sys.NativeBuffer(64);
    const pfd = new sys.NativeBuffer(sys.POLLFD_SIZE);
    try {
      expect(sys.setNonBlocking(s)).toBe(0);
      expect(sys.recv(s, buf)).toBe(-Errno.EAGAIN);
      pfd.view.setInt32(0, s, true);
      pfd.view.setInt16(4, sys.POLLIN, true);
      expect(sys.poll(pfd, 1, 0)).toBe(0);
    } finally {
      buf.free();
      pfd.free();
      sys.close(s);
    }
  });

  it('native buffers start zeroed and free once', () => {
    const b = new sys.NativeBuffer(100);
    expect(b.bytes.every((x) => x === 0)).toBe(true);
    b.free();
    expect(b.freed).toBe(true);
    b.free();
  });
});

describe('CPU lists', () => {
  it('parses the kernel formats', () => {
    expect(parseCpuList('0-3,5,7-8\n')).toEqual([0, 1, 2, 3, 5, 7, 8]);
    expect(parseCpuList('0')).toEqual([0]);
    expect(() => parseCpuList('0-a')).toThrow(/bad CPU list/);
  });
  it.skipIf(!linux)('possible CPUs cover the online ones', () => {
    expect(possibleCpus()).toBeGreaterThanOrEqual(parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8')).length);
  });
});

describe('verifier log reader', () => {
  it('the failing instruction is the last one printed; register dumps are not the reason', () => {
    const log = [
      'func#0 @0',
      '0: R1=ctx() R10=fp0',
      '0: (b7) r0 = 0                        ; R0_w=0',
      '1: (85) call bpf_map_lookup_elem#1',
      'R1 type=scalar expected=map_ptr',
      'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
      '',
    ].join('\n');
    expect(parseVerifierLog(log)).toEqual({
      insnIndex: 1,
      insnText: '1: (85) call bpf_map_lookup_elem#1',
      reason: 'R1 type=scalar expected=map_ptr',
    });
  });
  it('a refusal before any instruction: the last meaningful line', () => {
    expect(parseVerifierLog('last insn is not an exit or jmp\nprocessed 0 insns (limit 1000000)\n')).toEqual({
      insnIndex: undefined,
      insnText: undefined,
      reason: 'last insn is not an exit or jmp',
    });
  });
  it('with source lines (line info) between instructions', () => {
    const log = '0: R1=ctx() R10=fp0\n; return skb->len; @ a.c:3\n0: (61) r0 = *(u32 *)(r1 +4096)\ninvalid bpf_context access off=4096 size=4\nprocessed 1 insns\n';
    const v = parseVerifierLog(log);
    expect(v.insnIndex).toBe(0);
    expect(v.reason).toBe('invalid bpf_context access off=4096 size=4');
  });
});

describe('errors', () => {
  it('a refusal names the operation, the object, the errno and what it means', () => {
    const e = new KernelError('map update', Errno.E2BIG, 'map "x"', 'the map is full (max_entries elements)');
    expect(e.message).toBe('map update (map "x"): E2BIG: the map is full (max_entries elements)');
    expect(e.errno).toBe(Errno.E2BIG);
    expect(e.code).toBe('E2BIG');
    expect(kernelError('prog load', Errno.E2BIG).message).toMatch(/too large/);
    expect(kernelError('map create', 9999).message).toBe('map create: errno 9999');
  });
  it('no privileges is one sentence, whatever the operation', () => {
    const e = new PermissionError('prog load', Errno.EPERM);
    expect(e.message).toBe('loading BPF programs needs root (CAP_BPF and CAP_PERFMON)');
    expect(e.detail()).toBeUndefined();
  });
  it('a verifier refusal prints the whole log and points at the instruction', () => {
    const e = new VerifierError(Errno.EACCES, 'p', '0: (bf) r0 = r2\nR2 !read_ok\n', 0, 'R2 !read_ok', '0: (bf) r0 = r2');
    expect(e.message).toBe('the kernel verifier refused program "p" at instruction 0: R2 !read_ok');
    expect(e.detail()).toBe('verifier log:\n0: (bf) r0 = r2\nR2 !read_ok\nfailing instruction: 0: (bf) r0 = r2');
  });
});

describe('names', () => {
  it('object names are cut to 15 bytes of [A-Za-z0-9_.]; pin names lose their dots', () => {
    expect(objectName('count-packets-per-protocol')).toBe('count_packets_p');
    expect(objectName('.rodata')).toBe('.rodata');
    expect(pinName('.rodata.str1.1')).toBe('_rodata_str1_1');
  });
  it("object references in bpftool's words", () => {
    expect(parseObjectRef(['id', '7'], 'map')).toEqual({ id: 7 });
    expect(parseObjectRef(['pinned', '/sys/fs/bpf/x'], 'program')).toEqual({ pinned: '/sys/fs/bpf/x' });
    expect(parseObjectRef(['tag', 'ABCDEF0123456789'], 'program')).toEqual({ tag: 'abcdef0123456789' });
    expect(() => parseObjectRef(['id'], 'map')).toThrow(/name a map as: id N \| pinned PATH \| name NAME$/);
    expect(() => parseObjectRef(['tag', 'xyz'], 'program')).toThrow(/a tag is 16 hex digits/);
  });
});

describe('BTF strings', () => {
  const blob = encodeBtf([{ kind: 'int', name: 'int', size: 4, signed: true }]);
  it('reads the string table', () => {
    expect(btfStrings(blob)).toEqual(new Map([['', 0], ['int', 1]]));
  });
  it('appends missing strings and fixes the header', () => {
    const { bytes, strings } = withStrings(blob, ['int', 'a.c', 'return 0;']);
    expect(strings.get('int')).toBe(1);
    expect(btfStrings(bytes)).toEqual(strings);
    expect(bytes.length).toBe(blob.length + 4 + 10);
    expect(() => withStrings(new Uint8Array(10), ['x'])).toThrow(/shorter than its header/);
  });
});
