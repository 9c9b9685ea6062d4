/**
 * How the VM runs each program type: what r1 points to and what a test run
 * takes and gives back.
 *
 * - raw: r1 = a copy of the input memory (0 when there is none), r2 = its
 *   length — the bpf_conformance convention; used for BPF_PROG_TYPE_UNSPEC.
 * - socket (BPF_PROG_TYPE_SOCKET_FILTER) and tc (SCHED_CLS, SCHED_ACT):
 *   r1 = struct __sk_buff over an Ethernet frame, as BPF_PROG_TEST_RUN
 *   builds it (a socket filter sees the packet from the network header).
 * - xdp (BPF_PROG_TYPE_XDP): r1 = struct xdp_md over a 4 KiB frame with
 *   256 bytes of headroom.
 * - tracing (KPROBE, TRACEPOINT, RAW_TRACEPOINT, PERF_EVENT, TRACING):
 *   r1 = the context bytes the host supplies (pt_regs, raw arguments, a
 *   tracepoint record), read-only.
 */
import { ProgType } from '../ebpf/types.js';

export type ProgKind = 'raw' | 'socket' | 'tc' | 'xdp' | 'tracing';

export function kindOf(type: number): ProgKind | undefined {
  switch (type) {
    case ProgType.UNSPEC:
      return 'raw';
    case ProgType.SOCKET_FILTER:
      return 'socket';
    case ProgType.SCHED_CLS:
    case ProgType.SCHED_ACT:
      return 'tc';
    case ProgType.XDP:
      return 'xdp';
    case ProgType.KPROBE:
    case ProgType.TRACEPOINT:
    case ProgType.RAW_TRACEPOINT:
    case ProgType.PERF_EVENT:
    case ProgType.TRACING:
      return 'tracing';
    default:
      return undefined;
  }
}

/** Packet-handling kinds, which have a struct __sk_buff or xdp_md context. */
export const SKB_KINDS: readonly ProgKind[] = ['socket', 'tc'];
export const PACKET_KINDS: readonly ProgKind[] = ['socket', 'tc', 'xdp'];
