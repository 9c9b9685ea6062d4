/**
 * `bpfkit run PROGRAM`: run an eBPF program in the embedded VM, the way
 * BPF_PROG_TEST_RUN runs one in the kernel, and print what it returned.
 *
 * PROGRAM is a clang-compiled object (ELF, maps created, one program chosen
 * with --program), a bpf_conformance .data file, assembly text (llvm-objdump
 * or uBPF syntax), or raw bytecode.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { hexInput } from './conformance-plugin.js';

interface RunOptions {
  type?: string;
  program?: string;
  mem?: string;
  data?: string;
  ctx?: string;
  repeat: string;
  budget?: string;
  maps?: boolean;
  json?: boolean;
}

const TYPES: Record<string, number> = {
  raw: 0,
  socket: 1,
  socket_filter: 1,
  tc: 3,
  sched_cls: 3,
  sched_act: 4,
  xdp: 6,
  kprobe: 2,
  tracepoint: 5,
  raw_tracepoint: 17,
  perf_event: 7,
  tracing: 26,
};

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, not '${text}'`);
  return n;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function hexdump(b: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    lines.push(`  ${i.toString(16).padStart(4, '0')}  ${row}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run an eBPF program in the embedded VM (like BPF_PROG_TEST_RUN) and print its return value')
    .argument('<program>', 'an ELF object, a .data file, assembly text or raw bytecode')
    .option('-t, --type <type>', `program type: ${Object.keys(TYPES).join(', ')} (default: the ELF section's, else raw)`)
    .option('-p, --program <name>', 'the program to run in an ELF object with several')
    .option('--mem <hex>', 'input bytes as hex: memory for raw programs, the packet for socket/tc/xdp')
    .option('--data <file>', 'input bytes from a file')
    .option('--ctx <hex>', 'context bytes as hex (struct __sk_buff, xdp_md, tracing arguments)')
    .option('-r, --repeat <n>', 'run this many times (duration is the mean)', '1')
    .option('--budget <n>', 'instruction budget of each run')
    .option('--maps', 'print the maps after the run')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: RunOptions) => {
      const [ebpf, vmLayer] = await Promise.all([import('../ebpf/index.js'), import('../vm/index.js')]);
      if (opts.mem !== undefined && opts.data !== undefined) throw new UsageError('give --mem or --data, not both');
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      let input: Uint8Array | undefined;
      if (opts.mem !== undefined) input = await hexInput(opts.mem, '--mem');
      if (opts.data !== undefined) {
        try {
          input = readFileSync(opts.data);
        } catch (e) {
          throw new UsageError(`cannot read ${opts.data}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      const typeName = opts.type?.toLowerCase();
      if (typeName !== undefined && !(typeName in TYPES)) throw new UsageError(`unknown program type '${opts.type}' (one of ${Object.keys(TYPES).join(', ')})`);

      // What kind of file: ELF, .data, text, or bytecode.
      let collection: import('../ebpf/spec.js').CollectionSpec;
      let entry: string;
      if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
        const { loadCollectionSpec } = await import('../elf/index.js');
        const spec = loadCollectionSpec(bytes);
        const names = Object.keys(spec.programs);
        if (names.length === 0) throw new UsageError(`${file} has no programs`);
        if (opts.program !== undefined && !spec.programs[opts.program]) throw new UsageError(`${file} has no program '${opts.program}' (it has ${names.join(', ')})`);
        if (opts.program === undefined && names.length > 1) throw new UsageError(`${file} has several programs (${names.join(', ')}): choose one with --program`);
        entry = opts.program ?? names[0]!;
        collection = { programs: spec.programs, maps: spec.maps };
      } else {
        let insns: import('../ebpf/insn.js').Instruction[];
        let references: import('../ebpf/spec.js').Reference[] = [];
        const text = Buffer.from(bytes).toString('utf8');
        const isText = !text.includes('\u0000') && !text.includes('\ufffd');
        if (file.endsWith('.data')) {
          const df = ebpf.parseDataFile(text, file);
          insns = ebpf.dataFileProgram(df, file);
          if (input === undefined && df.mem) input = df.mem;
        } else if (isText) {
          const asm = ebpf.assembleText(text, { file });
          insns = asm.instructions;
          references = asm.references;
        } else {
          insns = ebpf.decode(bytes);
        }
        if (opts.program !== undefined) throw new UsageError('--program is for ELF objects');
        entry = 'prog';
        collection = { programs: { prog: { name: 'prog', type: 0, license: 'GPL', instructions: insns, references } }, maps: {} };
      }
      const prog = collection.programs[entry]!;
      if (typeName !== undefined) collection.programs[entry] = { ...prog, type: TYPES[typeName] as typeof prog.type };
      // Programs of types the VM does not run are left out (the chosen one is always loaded, to say why).
      const programs = Object.fromEntries(Object.entries(collection.programs).filter(([n, p]) => n === entry || vmLayer.kindOf(p.type) !== undefined));
      collection = { programs, maps: collection.maps };

      const vm = new vmLayer.Vm(opts.budget !== undefined ? { budget: positive(opts.budget, '--budget') } : {});
      const live = vm.loadCollection(collection);
      const result = live.programs[entry]!.run({
        ...(input ? { data: input } : {}),
        ...(opts.ctx !== undefined ? { ctx: await hexInput(opts.ctx, '--ctx') } : {}),
        repeat: positive(opts.repeat, '--repeat'),
      });
      const maps: Record<string, Array<[string, string]>> = {};
      // Maps without keys to walk (queue, stack, bloom filter, ring buffer): why they are not listed.
      const unlisted: Record<string, string> = {};
      if (opts.maps) {
        const { BpfErrnoError } = await import('../ebpf/engine.js');
        for (const [name, m] of Object.entries(live.maps)) {
          const rows: Array<[string, string]> = [];
          try {
            for (let k = m.nextKey(); k !== undefined && rows.length < 1000; k = m.nextKey(k)) {
              const v = m.lookup(k);
              if (v) rows.push([hex(k), hex(v)]);
            }
          } catch (e) {
            if (!(e instanceof BpfErrnoError)) throw e;
            unlisted[name] = e.message;
            continue;
          }
          maps[name] = rows;
        }
      }
      if (opts.json) {
        const out = {
          retval: result.retval,
          r0: '0x' + result.r0.toString(16),
          steps: result.steps,
          duration: Math.round(result.duration),
          dataOut: hex(result.dataOut),
          ...(result.ctxOut ? { ctxOut: hex(result.ctxOut) } : {}),
          ...(result.redirect ? { redirect: result.redirect } : {}),
          trace: vm.traceLog,
          ...(opts.maps ? { maps, ...(Object.keys(unlisted).length ? { unlisted } : {}) } : {}),
        };
        process.stdout.write(JSON.stringify(out) + '\n');
        return;
      }
      const lines = [
        `retval   ${result.retval} (0x${result.retval.toString(16)})`,
        `r0       0x${result.r0.toString(16).padStart(16, '0')}`,
        `steps    ${result.steps}${result.aborted ? ' (ended by a failed packet load)' : ''}`,
        `duration ${Math.round(result.duration)} ns${positive(opts.repeat, '--repeat') > 1 ? ` (mean of ${opts.repeat})` : ''}`,
      ];
      if (result.redirect) lines.push(`redirect ${JSON.stringify(result.redirect)}`);
      if (result.dataOut.length) lines.push(`data out (${result.dataOut.length} bytes)`, hexdump(result.dataOut));
      if (result.ctxOut) lines.push(`ctx out (${result.ctxOut.length} bytes)`, hexdump(result.ctxOut));
      for (const t of vm.traceLog) lines.push(`trace    ${t}`);
      for (const [name, rows] of Object.entries(maps)) {
        lines.push(`map ${name}: ${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}`);
        for (const [k, v] of rows) lines.push(`  ${k}: ${v}`);
      }
      for (const [name, why] of Object.entries(unlisted)) lines.push(`map ${name}: not listed (${why})`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
