/**
 * Socket filters: a program decides, per packet, how much of it a socket
 * receives (0: nothing). Classic BPF goes on with SO_ATTACH_FILTER (a
 * `struct sock_fprog`), eBPF SOCKET_FILTER programs with SO_ATTACH_BPF (the
 * program's fd); both come off with SO_DETACH_FILTER. The socket is the
 * caller's (any socket fd); the Link only undoes the attachment, and a
 * socket that is closed first takes its filter with it.
 */
import { AttachError } from './attach-errors.js';
import { kernelError } from './errors.js';
import { Link, type ProgramRef } from './link.js';
import * as sys from './sys.js';

export const SOL_SOCKET = 1;
export const SO_ATTACH_FILTER = 26;
export const SO_DETACH_FILTER = 27;
export const SO_ATTACH_BPF = 50;
export const SO_LOCK_FILTER = 44;

/** A classic BPF instruction (`struct sock_filter`); bpfkit/cbpf's instructions have this shape. */
export interface ClassicInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The kernel's limit on a classic filter (BPF_MAXINSNS). */
export const CLASSIC_MAX_INSNS = 4096;

/** The bytes of `struct sock_filter[]` for a classic program. */
export function encodeSockFilter(insns: readonly ClassicInsn[]): Uint8Array {
  const out = new Uint8Array(8 * insns.length);
  const v = new DataView(out.buffer);
  insns.forEach((i, n) => {
    v.setUint16(8 * n, i.code, true);
    v.setUint8(8 * n + 2, i.jt);
    v.setUint8(8 * n + 3, i.jf);
    v.setUint32(8 * n + 4, i.k >>> 0, true);
  });
  return out;
}

function detach(socketFd: number): () => void {
  return () => {
    const zero = new sys.NativeBuffer(4);
    try {
      // EBADF/ENOTSOCK (socket closed first) or ENOENT (no filter): nothing to undo.
      sys.setsockopt(socketFd, SOL_SOCKET, SO_DETACH_FILTER, zero);
    } finally {
      zero.free();
    }
  };
}

/** Attach a classic BPF program to a socket (SO_ATTACH_FILTER); replaces the socket's filter. */
export function attachClassicFilter(socketFd: number, insns: readonly ClassicInsn[]): Link {
  if (insns.length === 0 || insns.length > CLASSIC_MAX_INSNS) {
    throw new AttachError(`a classic socket filter needs 1 to ${CLASSIC_MAX_INSNS} instructions, not ${insns.length}`);
  }
  const code = sys.nativeCopy(encodeSockFilter(insns));
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: 16 bytes on 64-bit.
  const fprog = new sys.NativeBuffer(16);
  try {
    fprog.view.setUint16(0, insns.length, true);
    fprog.view.setBigUint64(8, BigInt(code.addr), true);
    const r = sys.setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_FILTER, fprog);
    if (r < 0) {
      throw kernelError('setsockopt SO_ATTACH_FILTER', -r, `socket fd ${socketFd}`, -r === 22 ? 'the kernel refused the classic program (invalid instructions)' : undefined);
    }
  } finally {
    fprog.free();
    code.free();
  }
  return new Link('socket_filter', `socket fd ${socketFd} (classic, ${insns.length} instructions)`, [{ label: 'SO_DETACH_FILTER', release: detach(socketFd) }]);
}

/** Attach an eBPF SOCKET_FILTER program to a socket (SO_ATTACH_BPF); replaces the socket's filter. */
export function attachSocketFilter(socketFd: number, prog: ProgramRef): Link {
  const v = new sys.NativeBuffer(4);
  try {
    v.view.setUint32(0, prog.fd, true);
    const r = sys.setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, v);
    if (r < 0) {
      throw kernelError('setsockopt SO_ATTACH_BPF', -r, `socket fd ${socketFd}, program ${prog.name}`, -r === 22 ? `program ${prog.name} is not a SOCKET_FILTER program` : undefined);
    }
  } finally {
    v.free();
  }
  return new Link('socket_filter', `socket fd ${socketFd} (program ${prog.name})`, [{ label: 'SO_DETACH_FILTER', release: detach(socketFd) }]);
}
