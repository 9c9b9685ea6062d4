/**
 * `bpfkit filter [-d|-dd|-ddd|--dot] [-O] [-y LINKTYPE] [-s SNAPLEN] EXPRESSION...`:
 * compile a pcap-filter expression to classic BPF and print it the way
 * `tcpdump -d`, `-dd` or `-ddd` does (`-d` by default), or print the
 * control-flow graph before and after optimisation as Graphviz (`--dot`).
 * Without -y the link type is EN10MB; -O turns the optimiser off.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

interface FilterCliOptions {
  d?: boolean;
  dd?: boolean;
  ddd?: boolean;
  dot?: boolean;
  noOptimize?: boolean;
  linktype?: string;
  snaplen?: string;
  netmask?: string;
  linuxExt?: boolean;
}

export function register(program: Command): void {
  program
    .command('filter')
    .description('compile a pcap-filter expression to classic BPF and print it like tcpdump -d/-dd/-ddd')
    .argument('<expression...>', 'pcap-filter expression (several arguments are joined with spaces, as tcpdump does)')
    .option('-d', "print the program as text (tcpdump -d; the default)")
    .option('--dd', 'print the program as a C array (tcpdump -dd)')
    .option('--ddd', 'print the program as decimal numbers (tcpdump -ddd)')
    .option('--dot', 'print the control-flow graph before and after optimisation as Graphviz')
    .option('-O, --no-optimize', 'do not run the optimiser')
    .option('-y, --linktype <type>', 'link-layer type (DLT name such as EN10MB, RAW, LINUX_SLL, or number)', 'EN10MB')
    .option('-s, --snaplen <bytes>', 'snapshot length: the value returned for accepted packets', '262144')
    .option('--netmask <mask>', "IPv4 netmask (for 'ip broadcast')")
    .option('--linux-ext', 'use Linux ancillary loads (as for a live Linux capture)')
    .addHelpText('after', '\nAs with tcpdump, -dd and -ddd may also be written as -d -d and -d -d -d.')
    .action(async (words: string[], opts: FilterCliOptions, cmd: Command) => {
      const { compileDetailed } = await import('../filter/compile.js');
      const { formatD, formatDD, formatDDD } = await import('../cbpf/format.js');
      const { toDot } = await import('../filter/dot.js');
      const snaplen = Number(opts.snaplen);
      if (!/^\d+$/.test(opts.snaplen ?? '') || snaplen > 0xffffffff) throw new UsageError(`invalid snaplen '${opts.snaplen}'`);
      // tcpdump counts repeated -d flags, given apart (-d -d) or together (-dd, -ddd, -Odd).
      const raw = (cmd.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? [];
      const dashDash = raw.indexOf('--');
      const dCount = (dashDash < 0 ? raw : raw.slice(0, dashDash))
        .filter((a) => /^-[dO]+$/.test(a))
        .reduce((n, a) => n + a.split('d').length - 1, 0);
      const level = opts.ddd || dCount >= 3 ? 3 : opts.dd || dCount === 2 ? 2 : 1;
      const optimize = opts.noOptimize === undefined ? (cmd.getOptionValue('optimize') as boolean) : !opts.noOptimize;
      const c = compileDetailed(words.join(' '), {
        linkType: opts.linktype ?? 'EN10MB',
        snaplen: snaplen === 0 ? 262144 : snaplen,
        netmask: opts.netmask,
        optimize,
        linuxExt: opts.linuxExt ?? false,
      });
      if (opts.dot) {
        process.stdout.write(toDot(c.cfg, 'unoptimized'));
        if (optimize) process.stdout.write(toDot(c.optimized, 'optimized'));
        return;
      }
      process.stdout.write(level === 3 ? formatDDD(c.program) : level === 2 ? formatDD(c.program) : formatD(c.program));
    });
}
