/**
 * `bpfkit capture -i IFACE [-w OUT] [-c COUNT] [EXPRESSION]`: live capture,
 * tcpdump's way. The expression is compiled by bpfkit/filter for the
 * interface's link type (with Linux's ancillary loads, as libpcap does for
 * a live capture) and attached to an AF_PACKET socket in the kernel
 * (SO_ATTACH_FILTER), so only matching packets reach user space; they are
 * read from a TPACKET_V3 ring and printed as tcpdump -n lines or written to
 * a pcap/pcapng file. Ctrl-C (or -c, or --duration) stops it; the counts
 * tcpdump prints come last, on standard error.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CaptureWriter } from '../capture/writer.js';
import type { Packet } from '../capture/packet.js';

interface CaptureCliOptions {
  interface: string;
  write?: string;
  count?: string;
  snaplen?: string;
  promiscuousMode: boolean;
  netns?: string;
  nano?: boolean;
  duration?: string;
  direction?: string;
  readMode?: string;
  n?: boolean;
}

export function register(program: Command): void {
  program
    .command('capture')
    .description('capture packets from a network interface like tcpdump: the filter runs in the kernel; print summaries or write pcap/pcapng (needs root)')
    .argument('[expression...]', 'pcap-filter expression (as for tcpdump)')
    .requiredOption('-i, --interface <iface>', 'the network interface')
    .option('-w, --write <file>', "write packets to a capture instead of printing them: pcapng for .pcapng, else pcap ('-' for standard output)")
    .option('-c, --count <count>', 'stop after COUNT packets')
    .option('-s, --snaplen <bytes>', 'bytes of each packet to keep (default 262144)')
    .option('-p, --no-promiscuous-mode', 'do not put the interface in promiscuous mode')
    .option('-Q, --direction <dir>', 'in, out or inout (default): packets received, sent, or both')
    .option('--netns <name>', 'the interface is in this network namespace (a name under /run/netns, or a path)')
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--nano', 'print timestamps with nanoseconds')
    .option('-n', 'do not resolve addresses (always the case; accepted for tcpdump habits)')
    // Only for benchmarks: how packets come up from the kernel.
    .addOption(new Option('--read-mode <mode>', 'ring (TPACKET_V3, default) or recv').choices(['ring', 'recv']).hideHelp())
    .addHelpText(
      'after',
      `
"listening on ..." and, at the end, the packet counts go to standard error; a line per packet to standard output.

Examples:
  sudo bpfkit capture -i eth0 -c 10 'tcp port 443'
  sudo bpfkit capture -i eth0 -w web.pcapng 'tcp port 80 or tcp port 443'
  sudo bpfkit capture -i veth0 --netns blue icmp`,
    )
    .action(async (expression: string[], opts: CaptureCliOptions) => {
      process.exitCode = await capture(expression.join(' ').trim(), opts);
    });
}

function positive(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${what} needs a positive number, not '${text}'`);
  return Number(text);
}

async function capture(expression: string, opts: CaptureCliOptions): Promise<number> {
  const max = positive(opts.count, '-c') ?? Infinity;
  const snaplen = positive(opts.snaplen, '-s') ?? 262144;
  const duration = opts.duration === undefined ? undefined : Number(opts.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration needs a positive number of seconds, not '${opts.duration}'`);
  const direction = opts.direction ?? 'inout';
  if (!['in', 'out', 'inout'].includes(direction)) throw new UsageError(`-Q takes in, out or inout, not '${direction}'`);

  const [{ PacketSocket, PacketType }, filterApi, linktypes] = await Promise.all([
    import('../kernel/packet-socket.js'),
    import('../filter/compile.js'),
    import('../capture/linktype.js'),
  ]);

  // The filter is compiled once the link type is known; a bad expression is reported before anything is captured.
  const sock = PacketSocket.open({
    iface: opts.interface,
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
    promiscuous: opts.promiscuousMode,
    read: opts.readMode === 'recv' ? 'recv' : 'ring',
    filter: (linkType) =>
      expression === ''
        ? [{ code: 0x06, jt: 0, jf: 0, k: snaplen }] // ret #snaplen: everything, cut to the snapshot length
        : filterApi.compile(expression, { linkType: linktypes.linkTypeToDlt(linkType), snaplen, linuxExt: true }),
  });

  let writer: CaptureWriter | undefined;
  let ifaceId: number | undefined;
  const linkType = sock.linkType;
  try {
    if (opts.write !== undefined) {
      const w = await import('../capture/writer.js');
      const sink = w.openSink(opts.write);
      if (w.formatForPath(opts.write) === 'pcapng') {
        const png = new w.PcapngWriter(sink);
        ifaceId = png.addInterface({ linkType, snaplen, name: sock.iface, ...(expression ? { filter: expression } : {}), os: 'Linux' });
        writer = png;
      } else {
        writer = new w.PcapWriter(sink, { linkType, snaplen, precision: opts.nano ? 'ns' : 'us' });
      }
    }
  } catch (err) {
    sock.close();
    throw err;
  }

  const lt = linktypes.linkTypeInfo(linkType);
  process.stderr.write(
    `listening on ${sock.iface}, link-type ${lt ? `${lt.name} (${lt.description})` : linkType}, snapshot length ${snaplen} bytes\n`,
  );

  const summarizer = writer ? undefined : new (await import('../capture/summary/summarizer.js')).Summarizer({ nano: opts.nano ?? false });
  let captured = 0;
  let out = '';
  const flush = () => {
    if (out.length > 0) {
      process.stdout.write(out);
      out = '';
    }
  };
  const packet: Packet = { data: new Uint8Array(0), wireLength: 0, seconds: 0, nanos: 0, linkType, interfaceId: 0 };

  await new Promise<void>((resolve) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      sock.stop();
      process.removeListener('SIGINT', finish);
      process.removeListener('SIGTERM', finish);
      if (timer) clearTimeout(timer);
      if (flusher) clearInterval(flusher);
      resolve();
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
    const timer = duration !== undefined ? setTimeout(finish, duration * 1000) : undefined;
    const flusher = writer ? undefined : setInterval(flush, 100);
    sock.start((p) => {
      if (direction === 'in' && p.packetType === PacketType.OUTGOING) return true;
      if (direction === 'out' && p.packetType !== PacketType.OUTGOING) return true;
      packet.data = p.data;
      packet.wireLength = p.wireLength;
      packet.seconds = p.seconds;
      packet.nanos = p.nanos;
      if (writer) writer.write(packet, ifaceId);
      else out += summarizer!.line(packet) + '\n';
      captured++;
      if (captured >= max) {
        finish();
        return false;
      }
      return true;
    });
  });

  flush();
  const stats = sock.stats();
  sock.close();
  await writer?.close();
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  process.stderr.write(
    `${plural(captured, 'packet')} captured\n${plural(stats.received, 'packet')} received by filter\n${plural(stats.dropped, 'packet')} dropped by kernel\n`,
  );
  return 0;
}
