/**
 * `bpfkit btf dump FILE [--format raw|c] [--base FILE]`: print the BTF of a
 * raw BTF file (/sys/kernel/btf/vmlinux, a module's split BTF) or of an ELF
 * object's .BTF section — raw like `bpftool btf dump file`, or as a C header
 * like `bpftool btf dump file X format c`.
 */
import type { Command } from 'commander';

export function register(program: Command): void {
  const btf = program.command('btf').description('inspect BTF type information');
  btf
    .command('dump')
    .description('print the types of a BTF file or ELF object (like bpftool btf dump file)')
    .argument('<file>', 'raw BTF (e.g. /sys/kernel/btf/vmlinux) or an ELF object with a .BTF section')
    .option('--format <format>', 'raw (bpftool\'s listing) or c (a compilable header)', 'raw')
    .option('--base <file>', 'base BTF for split BTF (a kernel module\'s BTF needs /sys/kernel/btf/vmlinux)')
    .action(async (file: string, opts: { format: string; base?: string }) => {
      const { readFileSync } = await import('node:fs');
      const { UsageError } = await import('../errors.js');
      const { loadBtf, formatRawBytes, formatC } = await import('../btf/index.js');
      if (opts.format !== 'raw' && opts.format !== 'c') {
        throw new UsageError(`--format must be raw or c, not '${opts.format}'`);
      }
      const read = (path: string): Uint8Array => {
        try {
          return readFileSync(path);
        } catch (e) {
          throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        }
      };
      const base = opts.base ? loadBtf(read(opts.base), opts.base).btf : undefined;
      let bytes = read(file);
      if (!base && file.startsWith('/sys/kernel/btf/') && !file.endsWith('/vmlinux')) {
        // a module's BTF is split on vmlinux's
        const vmlinux = loadBtf(read('/sys/kernel/btf/vmlinux'), '/sys/kernel/btf/vmlinux').btf;
        const { btf: mod } = loadBtf(bytes, file, vmlinux);
        process.stdout.write(opts.format === 'c' ? formatC(mod) : formatRawBytes(mod));
        return;
      }
      const { btf: b } = loadBtf(bytes, file, base);
      bytes = new Uint8Array(0);
      process.stdout.write(opts.format === 'c' ? formatC(b) : formatRawBytes(b));
    });
}
