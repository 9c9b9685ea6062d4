/**
 * File descriptor ownership. Every fd the kernel engine opens (maps,
 * programs, links, BTF, perf events, epoll, eventfd) is held by one `Fd`,
 * which closes it exactly once: on `close()`, or when the process exits (the
 * kernel would close it anyway, but links, perf events and anything with an
 * `onRelease` hook — tracefs probes, mounts — are released in order and
 * deliberately). `openFds()` lists what is still open, for leak tests.
 */
import * as sys from './sys.js';

const open = new Set<Fd>();
let exitHookInstalled = false;

export class Fd {
  #fd: number;
  /** Called after the fd is closed (at close() or process exit): undo what came with it. */
  onRelease: (() => void) | undefined;

  constructor(
    fd: number,
    /** What it is, for debugging and leak reports: `map counts`, `prog xdp_pass`, `perf cpu 0`. */
    readonly label: string,
  ) {
    if (!Number.isInteger(fd) || fd < 0) throw new Error(`Fd: not a file descriptor: ${fd}`);
    this.#fd = fd;
    open.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', releaseAll);
    }
  }

  /** The raw fd; throws once closed (a use-after-close is a bug in the caller). */
  get value(): number {
    if (this.#fd < 0) throw new Error(`${this.label}: used after close()`);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    open.delete(this);
    sys.close(fd);
    const release = this.onRelease;
    this.onRelease = undefined;
    release?.();
  }
}

/** Take ownership of `fd` if it is a valid fd, else return undefined. */
export function ownFd(fd: number, label: string): Fd {
  return new Fd(fd, label);
}

/** The fds this process still holds through the engine (newest last). */
export function openFds(): readonly Fd[] {
  return [...open];
}

/** Close every fd the engine holds, newest first (links before the programs they hold). */
export function releaseAll(): void {
  const all = [...open].reverse();
  for (const fd of all) {
    try {
      fd.close();
    } catch {
      // At exit nothing can be reported; keep releasing the rest.
    }
  }
}

let signalsInstalled = false;

/**
 * Also release everything on SIGINT, SIGTERM and SIGHUP (Node does not run
 * 'exit' handlers when a signal kills it). After releasing, the signal's
 * default action happens as if bpfkit were not there — unless the program
 * has its own handler for that signal, which then decides. Opt-in: call it
 * from a command-line tool, not from a library.
 */
export function releaseOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of signals) {
    const handler = () => {
      releaseAll();
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}
