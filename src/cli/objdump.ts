/**
 * `bpfkit objdump FILE.o`: what bpfkit makes of a clang-compiled BPF object —
 * its sections, programs (type, expected attach type, attach target, flags),
 * maps, global variables with their values, a summary of its BTF types, and
 * each program's relocated instructions interleaved with the source lines of
 * its BTF line_info.
 */
import type { Command } from 'commander';
import type { Btf } from '../btf/btf.js';
import type { Instruction } from '../ebpf/insn.js';
import type { ElfCollectionSpec } from '../elf/collection.js';
import type { ElfFile } from '../elf/reader.js';

export interface ObjdumpOptions {
  sections?: boolean;
  disassemble?: boolean;
  btf?: 'summary' | 'raw' | 'none';
  program?: string;
}

export function register(program: Command): void {
  program
    .command('objdump')
    .description('show the sections, programs, maps, globals, BTF and disassembly of a BPF object (clang -target bpf)')
    .argument('<file>', 'BPF ELF object')
    .option('--no-sections', 'leave out the section table')
    .option('--no-disassemble', 'leave out the disassembly')
    .option('--btf <mode>', 'BTF types: summary, raw (like bpftool btf dump) or none', 'summary')
    .option('--program <name>', 'disassemble only this program')
    .option('--kernel-btf <file>', 'BTF to apply CO-RE relocations and resolve ksyms against (default /sys/kernel/btf/vmlinux)')
    .option('--kconfig <file>', 'kernel config for .kconfig externs (default /proc/config.gz or /boot/config-$(uname -r))')
    .option('--strict', 'fail on section names libbpf would not recognise')
    .action(async (file: string, opts: { sections: boolean; disassemble: boolean; btf: string; program?: string; kernelBtf?: string; kconfig?: string; strict?: boolean }) => {
      const { readFileSync } = await import('node:fs');
      const { loadCollectionSpec, ElfFile } = await import('../elf/index.js');
      const { UsageError } = await import('../errors.js');
      if (!['summary', 'raw', 'none'].includes(opts.btf)) throw new UsageError(`--btf must be summary, raw or none, not '${opts.btf}'`);
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      let kconfig: string | undefined;
      if (opts.kconfig) {
        try {
          kconfig = readFileSync(opts.kconfig, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read ${opts.kconfig}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      }
      const spec = loadCollectionSpec(bytes, {
        ...(opts.kernelBtf ? { kernelBtf: opts.kernelBtf } : {}),
        ...(kconfig !== undefined ? { kconfig } : {}),
        unknownSections: opts.strict ? 'error' : 'warn',
      });
      if (opts.program && !spec.programs[opts.program]) throw new UsageError(`no program named '${opts.program}' (have: ${Object.keys(spec.programs).join(', ')})`);
      const text = await formatObject(file, ElfFile.parse(bytes), spec, {
        sections: opts.sections,
        disassemble: opts.disassemble,
        btf: opts.btf as ObjdumpOptions['btf'],
        ...(opts.program ? { program: opts.program } : {}),
      });
      process.stdout.write(text);
    });
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** The whole report, as text. */
export async function formatObject(file: string, elf: ElfFile, spec: ElfCollectionSpec, opts: ObjdumpOptions = {}): Promise<string> {
  const { nameOf, ProgType, AttachType, MapType } = await import('../ebpf/types.js');
  const { SHT } = await import('../elf/reader.js');
  const { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } = await import('../elf/sections.js');
  const out: string[] = [];
  const lower = (s: string | undefined, n: number) => (s ?? String(n)).toLowerCase();

  out.push(`${file}: ELF64 ${elf.littleEndian ? 'little' : 'big'}-endian BPF object, license "${spec.license}"${spec.kernelVersion !== undefined ? `, version ${hex(spec.kernelVersion)}` : ''}`);
  for (const w of spec.warnings) out.push(`warning: ${w}`);

  if (opts.sections !== false) {
    const typeNames = Object.fromEntries(Object.entries(SHT).map(([k, v]) => [v, k]));
    out.push('', 'Sections:', `  ${'idx'.padStart(3)} ${'name'.padEnd(28)} ${'type'.padEnd(12)} ${'size'.padStart(8)}  flags`);
    for (const s of elf.sections) {
      if (s.index === 0) continue;
      const flags = `${s.flags & 2 ? 'A' : ''}${s.flags & 1 ? 'W' : ''}${s.flags & 4 ? 'X' : ''}`;
      out.push(`  ${String(s.index).padStart(3)} ${s.name.padEnd(28)} ${(typeNames[s.type] ?? hex(s.type)).padEnd(12)} ${String(s.size).padStart(8)}  ${flags}`);
    }
  }

  out.push('', 'Programs:');
  for (const p of Object.values(spec.programs)) {
    const flags: string[] = [];
    if ((p.flags ?? 0) & BPF_F_SLEEPABLE) flags.push('sleepable');
    if ((p.flags ?? 0) & BPF_F_XDP_HAS_FRAGS) flags.push('xdp_has_frags');
    const parts = [
      `  ${p.name}`,
      `section ${p.section}`,
      `type ${lower(nameOf(ProgType, p.type), p.type)}`,
      ...(p.attachType !== undefined ? [`attach ${lower(nameOf(AttachType, p.attachType), p.attachType)}`] : []),
      ...(p.attachTo !== undefined ? [`target ${p.attachTo}`] : []),
      ...(flags.length ? [`flags ${flags.join(',')}`] : []),
      `${p.instructions.length} insns`,
    ];
    out.push(parts.join('  '));
  }

  out.push('', 'Maps:');
  for (const m of Object.values(spec.maps)) {
    const parts = [
      `  ${m.name}`,
      `type ${lower(nameOf(MapType, m.type), m.type)}`,
      `key ${m.keySize}`,
      `value ${m.valueSize}`,
      `max_entries ${m.maxEntries}`,
      ...(m.flags ? [`flags ${hex(m.flags)}`] : []),
      ...(m.numaNode !== undefined ? [`numa_node ${m.numaNode}`] : []),
      ...(m.mapExtra !== undefined ? [`map_extra ${m.mapExtra}`] : []),
      ...(m.pinning === 'byName' ? ['pinned by name'] : []),
      ...(m.freeze ? ['frozen'] : []),
    ];
    out.push(parts.join('  '));
    if (m.innerMap) {
      const i = m.innerMap;
      out.push(`      inner: type ${lower(nameOf(MapType, i.type), i.type)}  key ${i.keySize}  value ${i.valueSize}  max_entries ${i.maxEntries}`);
    }
    for (const c of m.contents ?? []) {
      const key = Buffer.from(c.key).toString('hex');
      const v = c.value instanceof Uint8Array ? Buffer.from(c.value).toString('hex') : 'program' in c.value ? `program ${c.value.program}` : `map ${c.value.map}`;
      out.push(`      [${key}] = ${v}`);
    }
  }

  const vars = Object.values(spec.variables);
  if (vars.length > 0) {
    out.push('', 'Globals:');
    for (const v of vars) {
      const val = v.get();
      const shown =
        typeof val === 'string' ? JSON.stringify(val) : val instanceof Uint8Array ? Buffer.from(val).toString('hex') : typeof val === 'bigint' ? `${val}` : String(val);
      out.push(`  ${v.map}+${v.offset}  ${v.name}  (${v.size} bytes)  = ${shown}`);
    }
  }

  const btf = spec.objectBtf;
  if (btf && opts.btf !== 'none') {
    out.push('', 'BTF:');
    if (opts.btf === 'raw') {
      const { formatRaw } = await import('../btf/format-raw.js');
      out.push(formatRaw(btf).trimEnd());
    } else out.push(...btfSummary(btf));
  }

  if (opts.disassemble !== false) {
    const { branchLabels, formatLlvm } = await import('../ebpf/disasm.js');
    const { helperName } = await import('../ebpf/helper-ids.js');
    for (const p of Object.values(spec.programs)) {
      if (opts.program && p.name !== opts.program) continue;
      out.push('', `Disassembly of ${p.name} (section ${p.section}):`);
      const labels = branchLabels(p.instructions);
      const format = (insns: readonly Instruction[], i: number) => {
        const ins = insns[i]!;
        const text = formatLlvm(insns, i, { label: (slot) => labels.get(slot) });
        if (ins.code === 0x85 && ins.src === 0 && ins.imm === 0xbad2310) return `${text}  # poisoned: a CO-RE relocation the target BTF cannot satisfy`;
        const helper = ins.code === 0x85 && ins.src === 0 ? helperName(ins.imm) : undefined;
        return helper ? `${text}  # bpf_${helper}` : text;
      };
      out.push(...disassembleWithSource(p.instructions, p.lineInfo ?? [], p.references, labels, format));
    }
  }
  return out.join('\n') + '\n';
}

function btfSummary(btf: Btf): string[] {
  const counts = new Map<string, number>();
  const named: Record<string, string[]> = { struct: [], union: [], enum: [], func: [] };
  for (const t of btf.types()) {
    counts.set(t.kind, (counts.get(t.kind) ?? 0) + 1);
    if (t.name && named[t.kind]) named[t.kind]!.push(t.name);
  }
  const lines = [`  ${[...counts.values()].reduce((a, b) => a + b, 0)} types: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`];
  for (const [kind, names] of Object.entries(named)) if (names.length) lines.push(`  ${kind}: ${names.join(' ')}`);
  return lines;
}

type Ref = { kind: string; index: number; map?: string; name?: string; offset?: number };

function disassembleWithSource(
  insns: Instruction[],
  lineInfo: { insn: number; fileName: string; line: string; lineNum: number }[],
  refs: Ref[],
  labels: Map<number, string>,
  formatInstruction: (insns: readonly Instruction[], i: number) => string,
): string[] {
  const lines = new Map(lineInfo.map((l) => [l.insn, l]));
  const refAt = new Map(refs.map((r) => [r.index, r]));
  const out: string[] = [];
  let lastLine = -1;
  for (let i = 0; i < insns.length; i++) {
    const l = lines.get(i);
    if (l && l.lineNum !== 0 && l.lineNum !== lastLine) out.push(`; ${l.line.trim()}  [${l.fileName.split('/').pop()}:${l.lineNum}]`);
    if (l) lastLine = l.lineNum;
    const label = labels.get(i);
    if (label) out.push(`${label}:`);
    let text = formatInstruction(insns, i);
    const r = refAt.get(i);
    if (r) text += r.kind === 'map' ? `  # map ${r.map}` : r.kind === 'mapValue' ? `  # ${r.map}+${r.offset}` : `  # ${r.kind} ${r.name}`;
    out.push(`${String(i).padStart(6)}:\t${text}`);
    if (insns[i]!.code === 0x18) i++;
  }
  return out;
}
