/**
 * Kernel programs, for real: load, test-run, info (checked against bpftool),
 * pin; the verifier's refusal returned in full with the failing instruction;
 * collections from a clang-compiled object (maps, globals in .data/.rodata/
 * .bss, a tail call, ring buffer output, BTF with func/line info, pinning by
 * name); no fd left behind on any error path.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { MapType, ProgType } from '../../src/ebpf/types.js';
import { loadCollectionSpec } from '../../src/elf/index.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { KernelError, PinMismatchError, VerifierError } from '../../src/kernel/errors.js';
import { openFds } from '../../src/kernel/fd.js';
import { createMap } from '../../src/kernel/map.js';
import { KernelProgram, loadProgram } from '../../src/kernel/program.js';
import { RingBufReader } from '../../src/kernel/ringbuf.js';
import { kernelSymbolId } from '../../src/kernel/vmlinux-btf.js';
import { HAVE_CLANG, compileBpf } from './support/fixtures.js';
import { Prog, R0, R1, R2, R6, R10, add64, call, exit, jeq, ldxw, mov64, mov64r, stw, xadd32 } from './support/insns.js';
import { CAN_BPF, SKIP_REASON, countFds, mountBpffs, readU32, readU64, u32, nothingLeft } from './support/kernel.js';

const d = describe.skipIf(!CAN_BPF);
if (!CAN_BPF) describe('kernel programs', () => it.skip(SKIP_REASON, () => {}));

/** What is pinned in a bpffs mount (a fresh mount also shows the kernel's preloaded maps.debug / progs.debug iterators). */
const pins = (dir: string) => readdirSync(dir).filter((n) => !n.endsWith('.debug'));

const bpftool = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['--json', ...args]).toString());

/** A socket filter returning skb->len (offset 0 of __sk_buff). */
const lenProgram = () => ({
  name: 'ret_len',
  type: ProgType.SOCKET_FILTER,
  license: 'GPL',
  instructions: [ldxw(R0, R1, 0), exit()],
  references: [],
});

/** Counts its runs in an array map (value 0) and returns the count after this run. */
function counterProgram(map: string) {
  const p = new Prog();
  p.emit(stw(R10, -4, 0), mov64r(R2, R10), add64(R2, -4));
  p.ldMap(R1, map);
  p.emit(call(1), jeq(R0, 0, 5), mov64r(R6, R0), mov64(R1, 1), xadd32(R6, R1, 0), ldxw(R0, R6, 0), exit(), mov64(R0, 0), exit());
  return { name: 'counter', type: ProgType.SOCKET_FILTER, license: 'GPL', instructions: p.instructions, references: p.references };
}

/** A program the verifier refuses at slot `at` (reading r2, which is never set), after `pad` harmless slots. */
function refusedProgram(pad: number) {
  const instructions = [];
  for (let i = 0; i < pad; i++) instructions.push(mov64(R0, i));
  instructions.push(mov64r(R0, R2), exit());
  return { name: 'refused', type: ProgType.SOCKET_FILTER, license: 'GPL', instructions, references: [] };
}

d('loading and running', () => {
  it('test-runs with packet data and repeat; info agrees with bpftool', () => {
    const p = loadProgram(lenProgram());
    try {
      // A socket filter sees the packet after its Ethernet header (14 bytes) is pulled.
      const r = p.testRun({ data: new Uint8Array(123), repeat: 1000 });
      expect(r.retval).toBe(123 - 14);
      const info = p.info();
      const tool = bpftool('prog', 'show', 'id', String(info.id));
      expect(tool.name).toBe('ret_len');
      expect(tool.type).toBe('socket_filter');
      expect(tool.tag).toBe(info.tag);
      expect(info.typeName).toBe('SOCKET_FILTER');
      expect(info.xlatedLength).toBe(tool.bytes_xlated);
      expect(info.gplCompatible).toBe(true);
    } finally {
      p.close();
    }
  });

  it('relocates map references: the program and user space share the map', () => {
    const m = createMap({ name: 'runs', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 });
    const p = loadProgram(counterProgram('runs'), { maps: { runs: m } });
    try {
      for (let i = 0; i < 5; i++) expect(p.testRun({ data: new Uint8Array(20) }).retval).toBe(i + 1);
      expect(readU32(m.lookup(u32(0))!)).toBe(5);
      expect(p.info().mapIds).toEqual([m.info().id]);
      const tool = bpftool('prog', 'show', 'id', String(p.info().id));
      expect(tool.map_ids).toEqual([m.info().id]);
    } finally {
      p.close();
      m.close();
    }
  });

  it('a reference to a map that was not given is an error naming it, before any system call', () => {
    expect(() => loadProgram(counterProgram('nope'))).toThrow(UsageError);
    expect(() => loadProgram(counterProgram('nope'))).toThrow(/refers to map "nope" at instruction 3, which was not given/);
  });

  it('test-runs with a context: __sk_buff fields in, changed fields out', () => {
    // tc program: r0 = skb->mark; skb->priority = 7
    const p = loadProgram({
      name: 'ctx_rw',
      type: ProgType.SCHED_CLS,
      license: 'GPL',
      instructions: [ldxw(R0, R1, 8), stw(R1, 32, 7), exit()],
      references: [],
    });
    try {
      const ctx = new Uint8Array(192); // sizeof(struct __sk_buff)
      new DataView(ctx.buffer).setUint32(8, 0x1234, true); // mark
      const r = p.testRun({ data: ipv4Packet(6), ctx });
      expect(r.retval).toBe(0x1234);
      expect(new DataView(r.ctxOut!.buffer, r.ctxOut!.byteOffset).getUint32(32, true)).toBe(7);
      // A context field the kernel does not let user space set is refused, with the hint.
      const bad = new Uint8Array(192);
      bad[0] = 1; // len
      expect(() => p.testRun({ data: ipv4Packet(6), ctx: bad })).toThrow(/prog test run \(program "ctx_rw" \(SCHED_CLS\)\): EINVAL: data or ctx/);
    } finally {
      p.close();
    }
  });

  it('xlated instructions come back from the kernel', () => {
    const p = loadProgram(lenProgram());
    try {
      const x = p.xlated();
      expect(x.length).toBe(p.info().xlatedLength / 8);
      expect(x[x.length - 1]!.code).toBe(0x95);
    } finally {
      p.close();
    }
  });
});

d('the verifier refuses', () => {
  it('the complete log (grown from a tiny buffer to what the kernel says it needs) and the failing instruction', () => {
    let small: VerifierError | undefined;
    let big: VerifierError | undefined;
    try {
      loadProgram(refusedProgram(300), { logSize: 4096 });
    } catch (e) {
      small = e as VerifierError;
    }
    try {
      loadProgram(refusedProgram(300), { logSize: 1 << 24 });
    } catch (e) {
      big = e as VerifierError;
    }
    expect(small).toBeInstanceOf(VerifierError);
    expect(small!.log.length).toBeGreaterThan(4096);
    expect(small!.log).toBe(big!.log);
    expect(small!.log).toMatch(/^0: R1=ctx\(\) R10=fp0/);
    expect(small!.log).toMatch(/processed 301 insns/);
    expect(small!.insnIndex).toBe(300);
    expect(small!.reason).toBe('R2 !read_ok');
    expect(small!.insnText).toBe('300: (bf) r0 = r2');
    expect(small!.message).toBe('the kernel verifier refused program "refused" at instruction 300: R2 !read_ok');
    expect(small!.detail()).toContain('failing instruction: 300: (bf) r0 = r2');
    expect(small!.errnoName).toBe('EACCES');
  });

  it('refused loads leave no fd behind', () => {
    const fds = countFds();
    const engine = openFds().length;
    for (let i = 0; i < 30; i++) expect(() => loadProgram(refusedProgram(i))).toThrow(VerifierError);
    expect(() => loadProgram({ ...lenProgram(), type: 9999 as ProgType })).toThrow(KernelError);
    expect(countFds()).toBe(fds);
    expect(openFds().length).toBe(engine);
  });

  it('an unknown program type is EINVAL with the hint, not a verifier log', () => {
    expect(() => loadProgram({ ...lenProgram(), type: 9999 as ProgType })).toThrow(/prog load \(program "ret_len" \(9999\)\): EINVAL: the kernel refused the program attributes/);
  });
});

d('pinning programs', () => {
  let fs: { dir: string; cleanup: () => void };
  beforeAll(() => {
    fs = mountBpffs();
  });
  afterAll(() => fs.cleanup());

  it('a pinned program opens again and runs', () => {
    const p = loadProgram(lenProgram());
    try {
      p.pin(`${fs.dir}/len`);
      const q = KernelProgram.fromPin(`${fs.dir}/len`);
      try {
        expect(q.name).toBe('ret_len');
        expect(q.type).toBe(ProgType.SOCKET_FILTER);
        expect(q.testRun({ data: new Uint8Array(77) }).retval).toBe(77 - 14);
      } finally {
        q.close();
      }
    } finally {
      p.close();
    }
    execFileSync('rm', [`${fs.dir}/len`]);
    expect(pins(fs.dir)).toEqual([]);
  });
});

const dc = describe.skipIf(!CAN_BPF || !HAVE_CLANG);

/** An Ethernet + IPv4 packet with the given IP protocol. */
function ipv4Packet(proto: number, length = 64): Uint8Array {
  const p = new Uint8Array(length);
  p.set([1, 2, 3, 4, 5, 6], 0); // dst
  p.set([7, 8, 9, 10, 11, 12], 6); // src
  p.set([0x08, 0x00], 12);
  p[14] = 0x45;
  p[16] = 0;
  p[17] = length - 14;
  p[23] = proto;
  return p;
}

dc('a collection from a clang-compiled object', () => {
  const obj = () => loadCollectionSpec(compileBpf('kernel_progs'));

  it('maps, globals (.data, .rodata frozen, .bss), bpf-to-bpf calls, counted by both sides', () => {
    const spec = obj();
    spec.variables.tx_proto!.set(17);
    const c = loadCollection(spec, { only: ['count_proto', 'xdp_swap'] });
    try {
      const sock = c.programs.count_proto!;
      for (const [proto, len] of [
        [0x0800, 60],
        [0x0800, 100],
        [0x86dd, 80],
      ] as const) {
        // __sk_buff.protocol comes from the Ethernet type of the test packet.
        const pkt = ipv4Packet(6, len);
        pkt.set([proto >> 8, proto & 0xff], 12);
        expect(sock.testRun({ data: pkt }).retval).toBe(len - 14);
      }
      const bytes = new Map([...c.maps.proto_bytes!.entries()].map(([k, v]) => [readU32(k), readU64(v)]));
      expect(bytes).toEqual(new Map([[0x0008, 160n - 28n], [0xdd86, 80n - 14n]]));
      expect(readU64(c.maps['.bss']!.lookup(u32(0))!)).toBe(3n);
      // .rodata is frozen: user space cannot change it any more.
      expect(() => c.maps['.rodata']!.update(u32(0), new Uint8Array(4))).toThrow(/EPERM/);

      const xdp = c.programs.xdp_swap!;
      const udp = ipv4Packet(17);
      const r = xdp.testRun({ data: udp });
      expect(r.retval).toBe(3); // XDP_TX
      expect([...r.dataOut.subarray(0, 12)]).toEqual([7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
      expect(xdp.testRun({ data: ipv4Packet(6) }).retval).toBe(2); // XDP_PASS
      expect(xdp.testRun({ data: new Uint8Array(20) }).retval).toBe(1); // XDP_DROP: too short
      // stats[0] accumulates len * multiplier (.data = 3) over the two full packets.
      expect(readU64(c.maps.stats!.lookup(u32(0))!)).toBe(BigInt((64 + 64) * 3));
      expect(c.readVariable('multiplier')).toEqual(u32(3));
      c.writeVariable('multiplier', u32(5));
      expect(readU32(c.maps['.data']!.lookup(u32(0))!)).toBe(5);
      xdp.testRun({ data: ipv4Packet(6) });
      expect(readU64(c.maps.stats!.lookup(u32(0))!)).toBe(BigInt((64 + 64) * 3 + 64 * 5));
      expect(readU64(c.readVariable('packets_seen'))).toBe(3n);
      expect(() => c.writeVariable('tx_proto', u32(1))).toThrow(/EPERM: the map is frozen/);
      expect(() => c.readVariable('nope')).toThrow(/no global variable "nope"/);
    } finally {
      c.close();
    }
  });

  it('.rodata set before load decides the verdict', () => {
    const spec = obj();
    spec.variables.tx_proto!.set(6);
    const c = loadCollection(spec, { only: ['xdp_swap'] });
    try {
      expect(c.programs.xdp_swap!.testRun({ data: ipv4Packet(6) }).retval).toBe(3);
      expect(c.programs.xdp_swap!.testRun({ data: ipv4Packet(17) }).retval).toBe(2);
    } finally {
      c.close();
    }
  });

  it('a tail call through a program array', () => {
    const c = loadCollection(obj(), { only: ['tail_caller', 'tail_target'] });
    try {
      expect(c.programs.tail_caller!.testRun({ data: new Uint8Array(20) }).retval).toBe(1);
      c.maps.jump!.updateFd(u32(1), c.programs.tail_target!.fd);
      expect(c.programs.tail_caller!.testRun({ data: new Uint8Array(20) }).retval).toBe(4242);
      expect(readU32(c.maps.jump!.lookup(u32(1))!)).toBe(c.programs.tail_target!.info().id);
    } finally {
      c.close();
    }
  });

  it('a program marked autoload: false (SEC("?...")) is loaded only when asked for', () => {
    const spec = obj();
    const programs = { tail_caller: spec.programs.tail_caller!, tail_target: { ...spec.programs.tail_target!, autoload: false } };
    const only = { ...spec, programs };
    const a = loadCollection(only);
    try {
      expect(Object.keys(a.programs)).toEqual(['tail_caller']);
    } finally {
      a.close();
    }
    const b = loadCollection(only, { only: ['tail_caller', 'tail_target'] });
    try {
      expect(Object.keys(b.programs).sort()).toEqual(['tail_caller', 'tail_target']);
    } finally {
      b.close();
    }
  });

  it('program-array contents naming programs are filled after loading', () => {
    const spec = obj();
    spec.maps.jump!.contents = [{ key: u32(1), value: { program: 'tail_target' } }];
    const c = loadCollection(spec, { only: ['tail_caller', 'tail_target'] });
    try {
      expect(c.programs.tail_caller!.testRun({ data: new Uint8Array(20) }).retval).toBe(4242);
    } finally {
      c.close();
    }
  });

  it('ring buffer records from a raw_tp program test run', () => {
    const c = loadCollection(obj(), { only: ['emit'] });
    const r = new RingBufReader(c.maps.events!);
    try {
      expect(c.programs.emit!.testRun({}).retval).toBe(0);
      expect(r.read().map((x) => Number(readU64(x)))).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    } finally {
      r.close();
      c.close();
    }
  });

  it('BTF, func info and line info reach the kernel (bpftool shows the source lines)', () => {
    const c = loadCollection(obj(), { only: ['xdp_swap'] });
    try {
      const info = c.programs.xdp_swap!.info();
      expect(info.btfId).toBeGreaterThan(0);
      const dump = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'id', String(info.id)]).toString();
      expect(dump).toContain('int xdp_swap(struct xdp_md * ctx):');
      expect(dump).toMatch(/; if \(eth->h_proto != bpf_htons\(ETH_P_IP\) \|\| ip->protocol != tx_proto\)/);
      expect(dump).toContain('__u64 weigh(__u64 len):');
      // Map key/value types too.
      const m = bpftool('map', 'show', 'id', String(c.maps.proto_bytes!.info().id));
      expect(m.btf_id).toBe(info.btfId);
    } finally {
      c.close();
    }
  });

  it('a hidden global subprogram goes to the kernel as a static function (as libbpf sends it); a plain global one stays global', () => {
    const spec = loadCollectionSpec(compileBpf('kernel_hidden'));
    // Checked in its caller's context, the hidden one's result indexes the stack array safely.
    const c = loadCollection(spec, { only: ['hidden_call'] });
    try {
      // skb->len of a test run is the data without its Ethernet header.
      for (const len of [60, 63, 64, 77]) expect(c.programs.hidden_call!.testRun({ data: new Uint8Array(len) }).retval).toBe(((len - 14) & 7) + 1);
      const info = c.programs.hidden_call!.info();
      const funcs = bpftool('btf', 'dump', 'id', String(info.btfId)) as { types: { kind: string; name: string; linkage?: string }[] };
      expect(funcs.types.find((t) => t.kind === 'FUNC' && t.name === 'pick_hidden')?.linkage).toBe('static');
    } finally {
      c.close();
    }
    // The same code, global: checked on its own, its result is any value, and the verifier refuses the read.
    expect(() => loadCollection(spec, { only: ['global_call'] })).toThrow(VerifierError);
  });

  it('a kfunc call is resolved to the BTF id bpftool shows for it, and the kernel runs it', () => {
    const spec = loadCollectionSpec(compileBpf('kernel_kfunc'));
    const ref = spec.programs.kfunc_call!.references.find((r) => r.kind === 'kfunc');
    expect(ref).toMatchObject({ kind: 'kfunc', name: 'bpf_cast_to_kern_ctx' });
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { maxBuffer: 1 << 28 }).toString();
    const id = Number(/^\[(\d+)\] FUNC 'bpf_cast_to_kern_ctx'/m.exec(dump)![1]);
    expect(kernelSymbolId('bpf_cast_to_kern_ctx', 'kfunc')).toBe(id);
    const c = loadCollection(spec);
    try {
      expect(c.programs.kfunc_call!.testRun({ data: ipv4Packet(6) }).retval).toBe(7);
    } finally {
      c.close();
    }
    expect(() => kernelSymbolId('bpfkit_no_such_function', 'kfunc')).toThrow(/the kernel's BTF has no function named bpfkit_no_such_function/);
  });

  it('pinning by name: a second load reuses the pinned map; an incompatible pin is refused and nothing is left', () => {
    const fs = mountBpffs();
    try {
      const a = loadCollection(obj(), { only: ['pinned_user'], pinPath: fs.dir });
      const b = loadCollection(obj(), { only: ['pinned_user'], pinPath: fs.dir });
      try {
        expect(pins(fs.dir)).toEqual(['shared_counts']);
        a.programs.pinned_user!.testRun({ data: new Uint8Array(20) });
        b.programs.pinned_user!.testRun({ data: new Uint8Array(20) });
        expect(readU32(a.maps.shared_counts!.lookup(u32(1))!)).toBe(2);
        expect(b.maps.shared_counts!.info().id).toBe(a.maps.shared_counts!.info().id);
      } finally {
        a.close();
        b.close();
      }
      execFileSync('rm', [`${fs.dir}/shared_counts`]);
      // Pin a map of another shape under that name: the load must refuse it and leave no fd.
      const other = createMap({ name: 'shared_counts', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16, flags: 0 });
      other.pin(`${fs.dir}/shared_counts`);
      other.close();
      const fds = countFds();
      expect(() => loadCollection(obj(), { only: ['pinned_user'], pinPath: fs.dir })).toThrow(PinMismatchError);
      expect(() => loadCollection(obj(), { only: ['pinned_user'], pinPath: fs.dir })).toThrow(/value size is 8, expected 4/);
      expect(countFds()).toBe(fds);
    } finally {
      fs.cleanup();
    }
  });

  it('a failure half way through closes everything and removes the pins it made', () => {
    const fs = mountBpffs();
    try {
      const spec = obj();
      // Break one program: its first slot now reads an uninitialised register.
      spec.programs.pinned_user!.instructions[0] = mov64r(R0, R2);
      const fds = countFds();
      const engine = openFds().length;
      expect(() => loadCollection(spec, { pinPath: fs.dir })).toThrow(VerifierError);
      expect(countFds()).toBe(fds);
      expect(openFds().length).toBe(engine);
      expect(existsSync(`${fs.dir}/shared_counts`)).toBe(false);
    } finally {
      fs.cleanup();
    }
  });
});

describe.skipIf(!CAN_BPF)('afterwards', () => {
  // The last describe of the file: every test above and its cleanup hooks have run.
  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
