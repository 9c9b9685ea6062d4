/**
 * `bpfkit prog ...` and `bpfkit map ...` as a user runs them: compared with
 * bpftool on the same objects; without root (the CLI run as `nobody`) one
 * clear message and no stack trace; bad input named in the error.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, TMP } from '../support/paths.js';
import { HAVE_CLANG, compileBpf } from './support/fixtures.js';
import { CAN_BPF, SKIP_REASON, mountBpffs, nothingLeft } from './support/kernel.js';
import { HAVE_SETPRIV, bpfkit, bpfkitAsNobody } from './support/cli.js';

function bpftool(...args: string[]): unknown {
  const r = spawnSync('bpftool', ['--json', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.skipIf(!CAN_BPF || !HAVE_SETPRIV)('without root', () => {
  for (const args of [['prog', 'list'], ['map', 'dump', 'id', '1'], ['prog', 'load', join(REPO, 'README.md'), '/tmp/x', '--type', 'xdp']]) {
    it(`bpfkit ${args.join(' ')}: one clear message, no stack trace`, () => {
      const r = bpfkitAsNobody(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('bpfkit: loading BPF programs needs root (CAP_BPF and CAP_PERFMON)\n');
      expect(r.stdout).toBe('');
    });
  }
});
if (!CAN_BPF) describe('bpfkit prog/map', () => it.skip(SKIP_REASON, () => {}));

describe.skipIf(!CAN_BPF || !HAVE_CLANG)('bpfkit prog and map, as root, against bpftool', () => {
  let fs: { dir: string; cleanup: () => void };
  let obj: string;
  beforeAll(() => {
    fs = mountBpffs();
    obj = compileBpf('kernel_progs');
  });
  afterAll(() => fs.cleanup());

  it('prog load pins a program and its maps; prog show and map show agree with bpftool', async () => {
    const r = (await bpfkit(['prog', 'load', obj, `${fs.dir}/xdp`, '--program', 'xdp_swap', '--pinmaps', `${fs.dir}/maps`]));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pinned program xdp_swap \(id \d+\) at .*\/xdp$/m);
    expect(r.stdout).toMatch(/pinned map \.rodata \(id \d+\) at .*\/maps\/_rodata$/m);
    const ours = JSON.parse((await bpfkit(['prog', 'show', 'pinned', `${fs.dir}/xdp`, '--json'])).stdout);
    const theirs = bpftool('prog', 'show', 'pinned', `${fs.dir}/xdp`) as Record<string, unknown>;
    for (const k of ['id', 'type', 'name', 'tag', 'gpl_compatible', 'bytes_xlated', 'bytes_jited', 'map_ids', 'btf_id']) {
      expect(ours[k], k).toEqual(theirs[k]);
    }
    const text = (await bpfkit(['prog', 'show', 'id', String(theirs.id)])).stdout;
    expect(text).toMatch(new RegExp(`^${theirs.id}: xdp  name xdp_swap  tag ${theirs.tag}  gpl$`, 'm'));
    const mapOurs = JSON.parse((await bpfkit(['map', 'show', 'pinned', `${fs.dir}/maps/stats`, '--json'])).stdout);
    const mapTheirs = bpftool('map', 'show', 'pinned', `${fs.dir}/maps/stats`) as Record<string, unknown>;
    for (const k of ['id', 'type', 'name', 'bytes_key', 'bytes_value', 'max_entries', 'btf_id']) expect(mapOurs[k], k).toEqual(mapTheirs[k]);
    const list = JSON.parse((await bpfkit(['prog', 'list', '--json'])).stdout) as { id: number }[];
    expect(list.map((p) => p.id)).toContain(theirs.id);
  });

  it('prog run test-runs it; map update/dump/lookup agree with bpftool', async () => {
    const pkt = '0102030405060708090a0b0c' + '0800' + '45000032' + '0'.repeat(10) + '11' + '0'.repeat(76);
    const avg = await bpfkit(['prog', 'run', 'pinned', `${fs.dir}/xdp`, '--data', pkt, '--repeat', '10']);
    expect(avg.code).toBe(0);
    expect(avg.stdout).toMatch(/^Return value: 3, duration \(average\): \d+ns$/m);
    const run = await bpfkit(['prog', 'run', 'pinned', `${fs.dir}/xdp`, '--data', pkt]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Return value: 3, duration: \d+ns$/m);
    expect(run.stdout).toMatch(/^data_out: 0708090a0b0c010203040506/m);
    const upd = (await bpfkit(['map', 'update', 'pinned', `${fs.dir}/maps/stats`, 'key', '2', '0', '0', '0', 'value', 'hex', '2a00000000000000']));
    expect(upd.stderr).toBe('');
    const theirs = bpftool('map', 'lookup', 'pinned', `${fs.dir}/maps/stats`, 'key', '2', '0', '0', '0') as { value: string[] };
    expect(theirs.value).toEqual(['0x2a', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00', '0x00']);
    const dump = JSON.parse((await bpfkit(['map', 'dump', 'pinned', `${fs.dir}/maps/stats`, '--json'])).stdout) as { key: string[]; value: string[] }[];
    const toolDump = bpftool('map', 'dump', 'pinned', `${fs.dir}/maps/stats`) as { key: string[]; value: string[] }[];
    expect(dump).toEqual(toolDump.map((e) => ({ key: e.key, value: e.value })));
    // The runs above counted 11 × the packet's length × multiplier 3 into stats[0].
    const stats0 = dump[0]!.value.reduce((acc, b, i) => acc + parseInt(b, 16) * 2 ** (8 * i), 0);
    expect(stats0).toBe(11 * (pkt.length / 2) * 3);
    const text = (await bpfkit(['map', 'dump', 'pinned', `${fs.dir}/maps/stats`])).stdout;
    expect(text).toContain('key: 02 00 00 00  value: 2a 00 00 00 00 00 00 00');
    expect(text).toMatch(/^Found 4 elements$/m);
    const look = (await bpfkit(['map', 'lookup', 'pinned', `${fs.dir}/maps/_data`, 'key', 'hex', '00000000']));
    expect(look.stdout).toBe('key: 00 00 00 00  value: 03 00 00 00\n');
    expect((await bpfkit(['map', 'update', 'pinned', `${fs.dir}/maps/proto_bytes`, 'key', '9', '0', '0', '0', 'value', '1', '0', '0', '0', '0', '0', '0', '0', 'exist'])).stderr).toMatch(
      /^bpfkit: map update \(map "proto_bytes"\): ENOENT: no such key \(flag EXIST\)\n$/,
    );
  });

  it('prog load of assembly text, with a pinned map given by name', async () => {
    const src = join(TMP, 'kernel', 'count.s');
    writeFileSync(
      src,
      ['*(u32 *)(r10 - 4) = 0', 'r2 = r10', 'r2 += -4', 'r1 = map_fd(stats) ll', 'call 1', 'if r0 == 0 goto +2', 'r0 = *(u64 *)(r0 + 0)', 'exit', 'r0 = 7', 'exit'].join('\n'),
    );
    const r = (await bpfkit(['prog', 'load', src, `${fs.dir}/asm`, '--type', 'socket_filter', '--map', `stats=${fs.dir}/maps/stats`]));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^pinned program count \(id \d+\)/);
    const run = (await bpfkit(['prog', 'run', 'pinned', `${fs.dir}/asm`, '--data', '00'.repeat(20), '--json']));
    const dump = JSON.parse((await bpfkit(['map', 'dump', 'pinned', `${fs.dir}/maps/stats`, '--json'])).stdout) as { value: string[] }[];
    const v0 = dump[0]!.value.reduce((acc, b, i) => acc + parseInt(b, 16) * 2 ** (8 * i), 0);
    expect(JSON.parse(run.stdout).retval).toBe(v0);
  });

  it('bad input: errors name what is wrong, exit 1, no stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['prog', 'load', '/nonexistent.o', `${fs.dir}/p`], /^bpfkit: cannot read \/nonexistent\.o: ENOENT\n$/],
      [['prog', 'load', obj, '/tmp/not-bpffs'], /^bpfkit: \/tmp\/not-bpffs is not on a bpf filesystem/],
      [['prog', 'load', obj, `${fs.dir}/p`], /^bpfkit: .* has 6 programs \(count_proto, .*\): choose one with --program NAME, or --all\n$/],
      [['prog', 'load', obj, `${fs.dir}/p`, '--program', 'nope'], /^bpfkit: .* has no program 'nope' \(it has: count_proto/],
      [['prog', 'load', join(REPO, 'README.md'), `${fs.dir}/p`], /^bpfkit: .*README\.md is not an ELF object: give --type/],
      [['prog', 'load', join(REPO, 'README.md'), `${fs.dir}/p`, '--type', 'nosuch'], /^bpfkit: unknown program type 'nosuch' \(one of: socket_filter, kprobe/],
      [['prog', 'show', 'id', 'x'], /^bpfkit: program id must be a positive integer, not 'x'\n$/],
      [['prog', 'show', 'name', 'no_such_prog_here'], /^bpfkit: no program with name no_such_prog_here\n$/],
      [['prog', 'show', 'pinned', `${fs.dir}/maps/stats`], /is not a pinned program\n$/],
      [['prog', 'show', 'id', '2147483000'], /^bpfkit: prog get fd by id \(id 2147483000\): ENOENT/],
      [['map', 'update', 'pinned', `${fs.dir}/maps/stats`, 'key', '1', '0', '0', 'value', '0'], /^bpfkit: map "stats": key must be 4 bytes, got 3\n$/],
      [['map', 'update', 'pinned', `${fs.dir}/maps/stats`, 'key', '300', 'value', '0'], /^bpfkit: key: '300' is not a byte \(0\.\.255, 0x00\.\.0xff; or write 'hex' first\)\n$/],
      [['map', 'dump', 'pinned', `${fs.dir}/maps/events`], /^bpfkit: map "events" \(RINGBUF\) has no keys to dump\n$/],
    ];
    for (const [args, want] of cases) {
      const r = await bpfkit(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(want);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a program the kernel refuses: the verifier log and the failing instruction', async () => {
    const src = join(TMP, 'kernel', 'bad.s');
    writeFileSync(src, ['r0 = 0', 'r0 = *(u32 *)(r1 + 4096)', 'exit'].join('\n'));
    const r = (await bpfkit(['prog', 'load', src, `${fs.dir}/bad`, '--type', 'socket_filter']));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bpfkit: the kernel verifier refused program "bad" at instruction 1: invalid bpf_context access off=4096 size=4\n/);
    expect(r.stderr).toMatch(/^verifier log:\n0: R1=ctx\(\) R10=fp0\n/m);
    expect(r.stderr).toMatch(/^processed 2 insns/m);
    expect(r.stderr).toMatch(/^failing instruction: 1: \(61\) r0 = \*\(u32 \*\)\(r1 \+4096\)\n$/m);
  });
});

describe.skipIf(!CAN_BPF)('afterwards', () => {
  // The last describe of the file: every test above and its cleanup hooks have run.
  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
