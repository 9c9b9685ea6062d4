/**
 * The system layer: the one module of bpfkit that calls into the C library.
 * Everything else in src/kernel is plain TypeScript over the functions here.
 *
 * It goes through koffi (a prebuilt FFI from npm) to glibc: `syscall` for
 * bpf(2) and perf_event_open(2), which have no libc wrapper, and the libc
 * wrappers for close, ioctl, mmap, epoll, eventfd, sockets. Pointers cross the
 * boundary as plain numbers (addresses of native memory from `allocNative` or
 * `mmap`); nothing here knows a struct layout.
 *
 * Convention: every call returns the kernel's result (≥ 0) or `-errno`. The
 * layers above turn a negative result into a typed error; this module never
 * throws for a kernel refusal, only when the C library cannot be loaded.
 *
 * `syscall` is declared with a fixed prototype (four integer arguments)
 * rather than as variadic: glibc implements it in assembly that only moves
 * integer registers, so on x86-64 and AArch64 Linux the two are the same
 * call, and the fixed one costs far less per call through koffi (getpid: 291
 * against 469 ns of CPU, where C takes ~280; bench/kernel.bench.ts), which
 * matters for map lookups.
 */
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';
import { KernelUnavailableError } from './errors.js';

/**
 * koffi is loaded on first use, not at import: importing bpfkit (or this
 * layer) never loads a native module, so it works wherever JavaScript runs
 * and only the kernel engine's calls need Linux.
 */
let koffi: typeof Koffi;

type Fn = (...args: any[]) => any;

interface Libc {
  syscall: Fn;
  syscall6: Fn;
  close: Fn;
  ioctl: Fn;
  mmap: Fn;
  munmap: Fn;
  epollCreate1: Fn;
  epollCtl: Fn;
  epollWait: KoffiAsyncFn;
  eventfd: Fn;
  read: Fn;
  write: Fn;
  socket: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  bind: Fn;
  getpid: Fn;
  gettid: Fn;
  recv: Fn;
  recvfrom: Fn;
  sendto: Fn;
  poll: KoffiAsyncFn;
  fcntl: Fn;
  setns: Fn;
  mount: Fn;
  umount2: Fn;
  ifNameToIndex: Fn;
}

type KoffiAsyncFn = Fn & { async: (...args: any[]) => void };

/** System call numbers of the calls that have no libc wrapper, per architecture. */
const SYSCALLS: Record<string, { bpf: number; perfEventOpen: number }> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  arm64: { bpf: 280, perfEventOpen: 241 },
  riscv64: { bpf: 280, perfEventOpen: 241 },
  loong64: { bpf: 280, perfEventOpen: 241 },
  ppc64: { bpf: 361, perfEventOpen: 319 },
};

let libc: Libc | undefined;
let nr: { bpf: number; perfEventOpen: number } | undefined;

function load(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') {
    throw new KernelUnavailableError(`the kernel engine needs Linux (this is ${process.platform})`);
  }
  nr = SYSCALLS[process.arch];
  if (!nr) throw new KernelUnavailableError(`the kernel engine does not know the system call numbers of ${process.arch}`);
  let lib: ReturnType<typeof Koffi.load>;
  try {
    koffi ??= createRequire(import.meta.url)('koffi') as typeof Koffi;
    lib = koffi.load('libc.so.6');
  } catch (err) {
    throw new KernelUnavailableError(`cannot load koffi and the C library (libc.so.6): ${(err as Error).message}`);
  }
  libc = {
    syscall: lib.func('long syscall(long nr, long a1, long a2, long a3)'),
    syscall6: lib.func('long syscall(long nr, long a1, long a2, long a3, long a4, long a5)'),
    close: lib.func('int close(int fd)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, long arg)'),
    mmap: lib.func('long mmap(long addr, size_t length, int prot, int flags, int fd, long offset)'),
    munmap: lib.func('int munmap(long addr, size_t length)'),
    epollCreate1: lib.func('int epoll_create1(int flags)'),
    epollCtl: lib.func('int epoll_ctl(int epfd, int op, int fd, long event)'),
    epollWait: lib.func('int epoll_wait(int epfd, long events, int maxevents, int timeout)') as KoffiAsyncFn,
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    read: lib.func('long read(int fd, long buf, size_t count)'),
    write: lib.func('long write(int fd, long buf, size_t count)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, long value, uint32_t len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, long value, long len)'),
    bind: lib.func('int bind(int fd, long addr, uint32_t len)'),
    getpid: lib.func('int getpid()'),
    gettid: lib.func('int gettid()'),
    recv: lib.func('long recv(int fd, long buf, size_t len, int flags)'),
    recvfrom: lib.func('long recvfrom(int fd, long buf, size_t len, int flags, long addr, long addrlen)'),
    sendto: lib.func('long sendto(int fd, long buf, size_t len, int flags, long addr, uint32_t addrlen)'),
    poll: lib.func('int poll(long fds, unsigned long nfds, int timeout)') as KoffiAsyncFn,
    fcntl: lib.func('int fcntl(int fd, int cmd, long arg)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, long data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    ifNameToIndex: lib.func('unsigned int if_nametoindex(const char *name)'),
  };
  return libc;
}

/** True when the C library and the system call numbers are available (Linux on a known architecture). */
export function available(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

function ret(r: number | bigint): number {
  const n = Number(r);
  return n < 0 ? -koffi.errno() : n;
}

// ---------------------------------------------------------------------------
// Native memory

/** A block of native (C heap) memory with a zero-copy view. Free it exactly once. */
export class NativeBuffer {
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  #ptr: unknown;

  constructor(readonly size: number) {
    load();
    const n = Math.max(8, size);
    this.#ptr = koffi.alloc('uint8_t', n);
    this.addr = Number(koffi.address(this.#ptr));
    const ab = koffi.view(this.#ptr, n);
    this.bytes = new Uint8Array(ab, 0, size);
    this.view = new DataView(ab, 0, n);
    this.bytes.fill(0);
  }

  get freed(): boolean {
    return this.#ptr === undefined;
  }

  free(): void {
    if (this.#ptr === undefined) return;
    koffi.free(this.#ptr);
    this.#ptr = undefined;
  }
}

/** Native memory holding a copy of `data` (NUL-terminated when `cString`). */
export function nativeCopy(data: Uint8Array | string, cString = false): NativeBuffer {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const buf = new NativeBuffer(bytes.length + (cString ? 1 : 0));
  buf.bytes.set(bytes);
  return buf;
}

/** A zero-copy ArrayBuffer over `length` bytes of native memory at `addr` (an mmap'ed region). */
export function viewAt(addr: number, length: number): ArrayBuffer {
  load();
  return koffi.view(addr, length);
}

// ---------------------------------------------------------------------------
// System calls without a libc wrapper

/** bpf(cmd, attr, size): the fd/value the kernel returns, or -errno. */
export function bpf(cmd: number, attrAddr: number, size: number): number {
  const l = libc ?? load();
  const r = l.syscall(nr!.bpf, cmd, attrAddr, size) as number;
  return r < 0 ? -koffi.errno() : r;
}

/** perf_event_open(attr, pid, cpu, group_fd, flags): an fd or -errno. */
export function perfEventOpen(attrAddr: number, pid: number, cpu: number, groupFd: number, flags: number): number {
  const l = load();
  return ret(l.syscall6(nr!.perfEventOpen, attrAddr, pid, cpu, groupFd, flags));
}

// ---------------------------------------------------------------------------
// libc wrappers

export function close(fd: number): number {
  return ret(load().close(fd));
}

/** ioctl with an integer (or address) argument. */
export function ioctl(fd: number, request: number, arg: number): number {
  return ret(load().ioctl(fd, request, arg));
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** mmap(NULL, length, prot, flags, fd, offset): the address, or -errno. */
export function mmap(length: number, prot: number, flags: number, fd: number, offset: number): number {
  const l = load();
  const r = Number(l.mmap(0, length, prot, flags, fd, offset));
  // MAP_FAILED is (void *)-1.
  return r === -1 ? -koffi.errno() : r;
}

export function munmap(addr: number, length: number): number {
  return ret(load().munmap(addr, length));
}

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 1;
/** sizeof(struct epoll_event): packed (12 bytes) on x86-64, 16 bytes elsewhere. */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
/** Offset of epoll_event.data. */
export const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function epollCreate(): number {
  return ret(load().epollCreate1(EPOLL_CLOEXEC));
}

/** epoll_ctl(epfd, op, fd, &{events, data}). */
export function epollCtl(epfd: number, op: number, fd: number, events: number, data: number): number {
  const ev = scratchEvent();
  ev.view.setUint32(0, events, true);
  ev.view.setBigUint64(EPOLL_DATA_OFFSET, BigInt(data), true);
  return ret(load().epollCtl(epfd, op, fd, ev.addr));
}

let eventScratch: NativeBuffer | undefined;
function scratchEvent(): NativeBuffer {
  return (eventScratch ??= new NativeBuffer(16));
}

/** epoll_wait without blocking (timeout 0) or with a timeout in ms: the number of ready events, or -errno. */
export function epollWait(epfd: number, events: NativeBuffer, maxEvents: number, timeoutMs: number): number {
  return ret(load().epollWait(epfd, events.addr, maxEvents, timeoutMs));
}

/**
 * epoll_wait on one of koffi's worker threads (libuv's pool), calling back
 * on the event loop with the number of ready events (or -1 on error/EINTR).
 * Blocks a pool thread while waiting: callers wake it (eventfd) to cancel.
 */
export function epollWaitAsync(
  epfd: number,
  events: NativeBuffer,
  maxEvents: number,
  timeoutMs: number,
  done: (result: number) => void,
): void {
  load().epollWait.async(epfd, events.addr, maxEvents, timeoutMs, (err: unknown, r: number) => {
    done(err ? -1 : r);
  });
}

export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

export function eventfd(flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  return ret(load().eventfd(0, flags));
}

export function read(fd: number, buf: NativeBuffer, length = buf.size): number {
  return ret(load().read(fd, buf.addr, length));
}

export function write(fd: number, buf: NativeBuffer, length = buf.size): number {
  return ret(load().write(fd, buf.addr, length));
}

export function socket(domain: number, type: number, protocol: number): number {
  return ret(load().socket(domain, type, protocol));
}

export function setsockopt(fd: number, level: number, name: number, value: NativeBuffer, length = value.size): number {
  return ret(load().setsockopt(fd, level, name, value.addr, length));
}

/** getsockopt into `value`; `lengthBuf` holds the socklen_t in/out. */
export function getsockopt(fd: number, level: number, name: number, value: NativeBuffer, lengthBuf: NativeBuffer): number {
  return ret(load().getsockopt(fd, level, name, value.addr, lengthBuf.addr));
}

export function bind(fd: number, addr: NativeBuffer, length = addr.size): number {
  return ret(load().bind(fd, addr.addr, length));
}

export function getpid(): number {
  return load().getpid() as number;
}

export function gettid(): number {
  return load().gettid() as number;
}

/** recv(fd, buf, len, flags): bytes received, or -errno (-EAGAIN on an empty non-blocking socket). */
export function recv(fd: number, buf: NativeBuffer, length = buf.size, flags = 0): number {
  return ret(load().recv(fd, buf.addr, length, flags));
}

/** recvfrom with the sender's address into `addr` (its socklen_t in `addrLen`). */
export function recvfrom(fd: number, buf: NativeBuffer, addr: NativeBuffer, addrLen: NativeBuffer, length = buf.size, flags = 0): number {
  return ret(load().recvfrom(fd, buf.addr, length, flags, addr.addr, addrLen.addr));
}

/** sendto(fd, buf, len, flags, addr): bytes sent, or -errno. */
export function sendto(fd: number, buf: NativeBuffer, length: number, flags: number, addr?: NativeBuffer): number {
  return ret(load().sendto(fd, buf.addr, length, flags, addr?.addr ?? 0, addr?.size ?? 0));
}

export const POLLIN = 1;
/** sizeof(struct pollfd): int fd, short events, short revents. */
export const POLLFD_SIZE = 8;

/** poll(fds, n, timeout) over an array of struct pollfd in `fds`: ready count, or -errno. */
export function poll(fds: NativeBuffer, count: number, timeoutMs: number): number {
  return ret(load().poll(fds.addr, count, timeoutMs));
}

/** poll on one of libuv's pool threads, calling back on the event loop (see Epoll.waitAsync for the trade-offs). */
export function pollAsync(fds: NativeBuffer, count: number, timeoutMs: number, done: (result: number) => void): void {
  load().poll.async(fds.addr, count, timeoutMs, (err: unknown, r: number) => done(err ? -1 : r));
}

export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;

/** Make an fd non-blocking. */
export function setNonBlocking(fd: number): number {
  const l = load();
  const flags = Number(l.fcntl(fd, F_GETFL, 0));
  if (flags < 0) return -koffi.errno();
  return ret(l.fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

export const CLONE_NEWNET = 0x40000000;

/**
 * setns(fd, nstype): move the calling thread into a namespace. Node runs
 * JavaScript on its main thread, so this moves the whole event loop: prefer a
 * child process for work inside another namespace.
 */
export function setns(fd: number, nstype: number): number {
  return ret(load().setns(fd, nstype));
}

/** mount(source, target, fstype, flags, NULL). */
export function mount(source: string, target: string, fstype: string, flags = 0): number {
  return ret(load().mount(source, target, fstype, flags, 0));
}

export const MNT_DETACH = 2;

export function umount2(target: string, flags = 0): number {
  return ret(load().umount2(target, flags));
}

/** The index of a network interface by name, or 0 when there is none. */
export function ifNameToIndex(name: string): number {
  return Number(load().ifNameToIndex(name));
}
