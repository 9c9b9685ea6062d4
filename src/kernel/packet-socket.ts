/**
 * Live capture from a network interface: an AF_PACKET socket with a classic
 * BPF filter in the kernel, so only matching packets are copied to user
 * space — what libpcap does for tcpdump on Linux.
 *
 * Order matters: the socket is made with protocol 0 (it receives nothing),
 * the filter is attached, the receive ring set up, and only then is it
 * bound to the interface with ETH_P_ALL; no packet the filter would refuse
 * is ever queued.
 *
 * Two ways to read, chosen per socket (bench/capture-live.bench.ts measures
 * them):
 * - 'ring' (default): a TPACKET_V3 ring mmap'ed into the process; the kernel
 *   fills blocks of packets, user space walks a block and hands it back, no
 *   system call per packet (or per block: the block status word is in shared
 *   memory), timestamps and lengths in each packet's header;
 * - 'recv': one recvfrom(2) per packet into a buffer, plus an ioctl for its
 *   timestamp.
 *
 * Packets are delivered as views (`data` valid only during the callback).
 * VLAN tags the device stripped (tp_vlan_tci) are put back into the bytes,
 * as libpcap does.
 */
import { AttachError } from './attach-errors.js';
import { kernelError, KernelError } from './errors.js';
import { Fd } from './fd.js';
import { Epoll, PollLoop, type PollOptions } from './poll-loop.js';
import { inNetns, interfaceIndex } from './netns.js';
import { attachClassicFilter, type ClassicInsn } from './socket.js';
import * as sys from './sys.js';

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const ETH_P_ALL = 0x0003;
const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_RX_RING = 5;
const PACKET_STATISTICS = 6;
const PACKET_VERSION = 10;
const PACKET_MR_PROMISC = 1;
const TPACKET_V3 = 2;
const TP_STATUS_USER = 1;
const TP_STATUS_VLAN_VALID = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID = 1 << 6;
const SIOCGIFHWADDR = 0x8927;
const SIOCGSTAMPNS = 0x8907;
const SO_TIMESTAMPNS = 35;
const EAGAIN = 11;

/** Linux packet types (sockaddr_ll.sll_pkttype). */
export const PacketType = { HOST: 0, BROADCAST: 1, MULTICAST: 2, OTHERHOST: 3, OUTGOING: 4 } as const;

/** The LINKTYPE_ of a device's ARPHRD_ type, as libpcap picks it for a raw (not cooked) packet socket; undefined when it needs cooked mode. */
export function linkTypeOfArphrd(hatype: number): number | undefined {
  switch (hatype) {
    case 1: // ARPHRD_ETHER
    case 772: // ARPHRD_LOOPBACK: a zeroed Ethernet header
      return 1; // LINKTYPE_ETHERNET
    case 0xfffe: // ARPHRD_NONE (tun, wireguard): the packet starts with the IP header
      return 101; // LINKTYPE_RAW
    case 803: // ARPHRD_IEEE80211_RADIOTAP
      return 127;
    case 801: // ARPHRD_IEEE80211
      return 105;
    case 824: // ARPHRD_NETLINK
      return 253;
    default:
      return undefined;
  }
}

export interface CapturedPacket {
  /** The captured bytes (a view: copy it to keep it past the callback). */
  data: Uint8Array;
  /** Length on the wire. */
  wireLength: number;
  seconds: number;
  nanos: number;
  /** PacketType.* */
  packetType: number;
}

export interface PacketSocketOptions extends PollOptions {
  /** Interface name (or index). */
  iface: string | number;
  /**
   * A classic BPF filter, attached in the kernel before the socket is bound;
   * or a function that makes it for the interface's link type (known only
   * once the socket is open).
   */
  filter?: readonly ClassicInsn[] | ((linkType: number) => readonly ClassicInsn[]);
  /** Promiscuous mode (default true, as tcpdump). */
  promiscuous?: boolean;
  /** How to read (default 'ring'). */
  read?: 'ring' | 'recv';
  /** Ring size: blocks of `blockSize` bytes (default 1 MiB × 4). */
  blockSize?: number;
  blockCount?: number;
  /** How long the kernel holds a partly filled block before handing it over, ms (default 10). */
  blockTimeoutMs?: number;
  /** A network namespace (name under /run/netns, or a path) the interface is in. */
  netns?: string;
}

export interface PacketStats {
  /** Packets the filter accepted (including dropped ones), as the kernel counts them. */
  received: number;
  /** Packets dropped because the ring was full. */
  dropped: number;
}

/** tcpdump's message for a capture without the right. */
function captureError(op: string, errno: number, subject?: string): KernelError {
  if (errno === 1 || errno === 13) {
    const e = new KernelError(op, errno, subject, undefined);
    e.message = 'capturing packets needs root (CAP_NET_RAW)';
    return e;
  }
  return kernelError(op, errno, subject);
}

export class PacketSocket {
  readonly #fd: Fd;
  readonly ifindex: number;
  /** LINKTYPE_ of the packets (from the device's hardware type). */
  readonly linkType: number;
  /** ARPHRD_ of the device. */
  readonly hardwareType: number;
  readonly iface: string;
  readonly mode: 'ring' | 'recv';
  #ring: { addr: number; size: number; bytes: Uint8Array; view: DataView; status: Int32Array; blockSize: number; blockCount: number } | undefined;
  #current = 0;
  #recvBuf: sys.NativeBuffer | undefined;
  #addrBuf: sys.NativeBuffer | undefined;
  #stamp: sys.NativeBuffer | undefined;
  #totals: PacketStats = { received: 0, dropped: 0 };
  #loop: PollLoop | undefined;
  #epoll: Epoll | undefined;
  #vlanScratch = new Uint8Array(0);

  private constructor(fd: Fd, ifindex: number, hatype: number, linkType: number, iface: string, mode: 'ring' | 'recv') {
    this.#fd = fd;
    this.ifindex = ifindex;
    this.hardwareType = hatype;
    this.linkType = linkType;
    this.iface = iface;
    this.mode = mode;
  }

  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Open a capture on `options.iface`: filter, ring and bind done, packets start queuing. */
  static open(options: PacketSocketOptions): PacketSocket {
    const iface = String(options.iface);
    const mode = options.read ?? 'ring';
    const held: sys.NativeBuffer[] = [];
    const native = (n: number) => {
      const b = new sys.NativeBuffer(n);
      held.push(b);
      return b;
    };
    // 1. A socket in the interface's namespace that receives nothing yet (protocol 0).
    const { fd: raw, ifindex } = inNetns(options.netns, () => {
      const ifindex = interfaceIndex(options.iface, options.netns);
      const fd = sys.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) throw captureError('socket AF_PACKET', -fd, iface);
      return { fd, ifindex };
    });
    const fd = new Fd(raw, `packet socket ${iface}`);
    let sock: PacketSocket | undefined;
    try {
      // 2. The device's hardware type → link type.
      const ifr = native(40);
      const nameBytes = new TextEncoder().encode(typeof options.iface === 'number' ? '' : options.iface);
      let hatype: number;
      if (nameBytes.length > 0) {
        ifr.bytes.set(nameBytes.subarray(0, 15));
        const r = inNetns(options.netns, () => sys.ioctl(raw, SIOCGIFHWADDR, ifr.addr));
        if (r < 0) throw captureError('ioctl SIOCGIFHWADDR', -r, iface);
        hatype = ifr.view.getUint16(16, true);
      } else {
        hatype = 1;
      }
      const linkType = linkTypeOfArphrd(hatype);
      if (linkType === undefined) throw new AttachError(`${iface} has hardware type ${hatype}, which needs a cooked capture (not supported yet)`);
      sock = new PacketSocket(fd, ifindex, hatype, linkType, iface, mode);
      // 3. The filter, before any packet can arrive.
      const filter = typeof options.filter === 'function' ? options.filter(linkType) : options.filter;
      if (filter) attachClassicFilter(raw, filter);
      // 4. The ring (or the buffers for recv).
      if (mode === 'ring') sock.#setupRing(options, native);
      else {
        // Stamp every packet on arrival (else SIOCGSTAMPNS answers with the time of asking for the first).
        const on = native(4);
        on.view.setUint32(0, 1, true);
        const t = sys.setsockopt(raw, 1 /* SOL_SOCKET */, SO_TIMESTAMPNS, on);
        if (t < 0) throw captureError('setsockopt SO_TIMESTAMPNS', -t, iface);
        sock.#recvBuf = new sys.NativeBuffer(262144 + 4);
        sock.#addrBuf = new sys.NativeBuffer(20);
        sock.#stamp = new sys.NativeBuffer(16);
      }
      // 5. Promiscuous mode, then bind: packets flow.
      if (options.promiscuous ?? true) {
        const mreq = native(16);
        mreq.view.setInt32(0, ifindex, true);
        mreq.view.setUint16(4, PACKET_MR_PROMISC, true);
        const r = sys.setsockopt(raw, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq);
        if (r < 0) throw captureError('setsockopt PACKET_ADD_MEMBERSHIP', -r, iface);
      }
      const sll = native(20);
      sll.view.setUint16(0, AF_PACKET, true);
      sll.view.setUint16(2, ETH_P_ALL, false);
      sll.view.setInt32(4, ifindex, true);
      const r = sys.bind(raw, sll);
      if (r < 0) throw captureError('bind AF_PACKET', -r, iface);
      return sock;
    } catch (err) {
      if (sock) sock.close();
      else fd.close();
      throw err;
    } finally {
      for (const b of held) b.free();
    }
  }

  #setupRing(options: PacketSocketOptions, native: (n: number) => sys.NativeBuffer): void {
    const raw = this.#fd.value;
    const v = native(4);
    v.view.setUint32(0, TPACKET_V3, true);
    let r = sys.setsockopt(raw, SOL_PACKET, PACKET_VERSION, v);
    if (r < 0) throw captureError('setsockopt PACKET_VERSION', -r, this.iface);
    const blockSize = options.blockSize ?? 1 << 20;
    const blockCount = options.blockCount ?? 4;
    if (blockSize % 4096 !== 0 || blockSize < 4096) throw new AttachError(`ring block size must be a multiple of the page size (4096), not ${blockSize}`);
    const frameSize = 2048;
    const req = native(28);
    req.view.setUint32(0, blockSize, true);
    req.view.setUint32(4, blockCount, true);
    req.view.setUint32(8, frameSize, true);
    req.view.setUint32(12, (blockSize / frameSize) * blockCount, true);
    req.view.setUint32(16, options.blockTimeoutMs ?? 10, true);
    r = sys.setsockopt(raw, SOL_PACKET, PACKET_RX_RING, req);
    if (r < 0) throw captureError('setsockopt PACKET_RX_RING', -r, `${this.iface}, ${blockCount} blocks of ${blockSize} bytes`);
    const size = blockSize * blockCount;
    const addr = sys.mmap(size, sys.PROT_READ | sys.PROT_WRITE, sys.MAP_SHARED, raw, 0);
    if (addr < 0) throw captureError('mmap packet ring', -addr, this.iface);
    const ab = sys.viewAt(addr, size);
    this.#ring = {
      addr,
      size,
      bytes: new Uint8Array(ab),
      view: new DataView(ab),
      status: new Int32Array(ab),
      blockSize,
      blockCount,
    };
    // The mapping goes when the socket does, whoever closes it.
    const before = this.#fd.onRelease;
    this.#fd.onRelease = () => {
      before?.();
      sys.munmap(addr, size);
    };
  }

  /**
   * Hand every packet waiting now to `onPacket` (`data` is a view, valid
   * during the call); stop early when it returns false. Returns how many
   * were delivered. Never blocks.
   */
  drain(onPacket: (p: CapturedPacket) => boolean | void, max = Infinity): number {
    return this.mode === 'ring' ? this.#drainRing(onPacket, max) : this.#drainRecv(onPacket, max);
  }

  #drainRing(onPacket: (p: CapturedPacket) => boolean | void, max: number): number {
    const ring = this.#ring!;
    const { view, bytes, status, blockSize } = ring;
    let n = 0;
    const pkt: CapturedPacket = { data: bytes, wireLength: 0, seconds: 0, nanos: 0, packetType: 0 };
    while (n < max) {
      const block = this.#current * blockSize;
      // block_status is at offset 8 of the block descriptor.
      if ((Atomics.load(status, (block + 8) >> 2) & TP_STATUS_USER) === 0) break;
      const count = view.getUint32(block + 12, true);
      let off = block + view.getUint32(block + 16, true);
      let stop = false;
      for (let i = 0; i < count; i++) {
        const next = view.getUint32(off, true);
        const snap = view.getUint32(off + 12, true);
        const tpStatus = view.getUint32(off + 20, true);
        const mac = view.getUint16(off + 24, true);
        pkt.seconds = view.getUint32(off + 4, true);
        pkt.nanos = view.getUint32(off + 8, true);
        pkt.wireLength = view.getUint32(off + 16, true);
        // struct sockaddr_ll follows the 48-byte tpacket3_hdr: sll_pkttype at +10.
        pkt.packetType = bytes[off + 48 + 10]!;
        pkt.data = bytes.subarray(off + mac, off + mac + snap);
        if (tpStatus & TP_STATUS_VLAN_VALID) {
          const tci = view.getUint32(off + 32, true) & 0xffff;
          const tpid = tpStatus & TP_STATUS_VLAN_TPID_VALID ? view.getUint16(off + 36, true) : 0x8100;
          pkt.data = this.#withVlan(pkt.data, tpid, tci);
          pkt.wireLength += 4;
        }
        n++;
        if (onPacket(pkt) === false) {
          // The rest of this block is lost to the caller, as with tcpdump -c: the count was reached.
          stop = true;
          break;
        }
        off += next;
      }
      Atomics.store(status, (block + 8) >> 2, 0); // TP_STATUS_KERNEL: the block goes back
      this.#current = (this.#current + 1) % ring.blockCount;
      if (stop) break;
    }
    return n;
  }

  #withVlan(data: Uint8Array, tpid: number, tci: number): Uint8Array {
    if (data.length < 12) return data;
    if (this.#vlanScratch.length < data.length + 4) this.#vlanScratch = new Uint8Array(Math.max(data.length + 4, 2048));
    const out = this.#vlanScratch.subarray(0, data.length + 4);
    out.set(data.subarray(0, 12));
    out[12] = tpid >> 8;
    out[13] = tpid & 0xff;
    out[14] = tci >> 8;
    out[15] = tci & 0xff;
    out.set(data.subarray(12), 16);
    return out;
  }

  #drainRecv(onPacket: (p: CapturedPacket) => boolean | void, max: number): number {
    const buf = this.#recvBuf!;
    const addr = this.#addrBuf!;
    const len = new sys.NativeBuffer(4);
    let n = 0;
    try {
      while (n < max) {
        len.view.setUint32(0, 20, true);
        // MSG_TRUNC (0x20): the result is the length on the wire even when the buffer is smaller.
        const r = sys.recvfrom(this.#fd.value, buf, addr, len, buf.size, 0x20);
        if (r < 0) {
          if (-r === EAGAIN) break;
          throw captureError('recvfrom', -r, this.iface);
        }
        const stamp = this.#stamp!;
        sys.ioctl(this.#fd.value, SIOCGSTAMPNS, stamp.addr);
        n++;
        const more = onPacket({
          data: buf.bytes.subarray(0, Math.min(r, buf.size)),
          wireLength: r,
          seconds: Number(stamp.view.getBigInt64(0, true)),
          nanos: Number(stamp.view.getBigInt64(8, true)),
          packetType: addr.bytes[10]!,
        });
        if (more === false) break;
      }
    } finally {
      len.free();
    }
    return n;
  }

  /**
   * Deliver packets on Node's event loop as they come (see poll-loop.ts for
   * the wait modes) until stop() or close().
   */
  start(onPacket: (p: CapturedPacket) => boolean | void, options: PollOptions = {}): void {
    if (this.#loop?.running) return;
    if (options.mode === 'epoll' || this.mode === 'recv') this.#epoll ??= new Epoll([this.#fd.value], `capture ${this.iface}`);
    this.#loop = new PollLoop(
      () => {
        let stopped = false;
        const n = this.drain((p) => {
          if (onPacket(p) === false) {
            stopped = true;
            return false;
          }
          return true;
        });
        if (stopped) this.stop();
        return n;
      },
      this.#epoll,
      this.mode === 'recv' ? { ...options, mode: 'epoll' } : options,
    );
    this.#loop.start();
  }

  stop(): void {
    this.#loop?.stop();
  }

  /** The kernel's counts since the last call (PACKET_STATISTICS resets them), added to the running totals, which are returned. */
  stats(): PacketStats {
    if (this.#fd.closed) return { ...this.#totals };
    const st = new sys.NativeBuffer(12);
    const len = new sys.NativeBuffer(4);
    try {
      len.view.setUint32(0, 12, true);
      const r = sys.getsockopt(this.#fd.value, SOL_PACKET, PACKET_STATISTICS, st, len);
      if (r < 0) throw captureError('getsockopt PACKET_STATISTICS', -r, this.iface);
      this.#totals.received += st.view.getUint32(0, true);
      this.#totals.dropped += st.view.getUint32(4, true);
    } finally {
      st.free();
      len.free();
    }
    return { ...this.#totals };
  }

  close(): void {
    if (this.#fd.closed) return;
    this.stop();
    try {
      this.stats();
    } catch {
      // Closing anyway.
    }
    this.#epoll?.close();
    this.#epoll = undefined;
    this.#ring = undefined;
    this.#fd.close(); // unmaps the ring
    this.#recvBuf?.free();
    this.#addrBuf?.free();
    this.#stamp?.free();
    this.#recvBuf = this.#addrBuf = this.#stamp = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
