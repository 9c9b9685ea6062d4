/**
 * Links: a program attached somewhere, and everything that keeps it there.
 *
 * One `Link` owns the parts of one attachment — a bpf_link fd, perf event
 * fds, a socket option to undo, a tracefs probe to remove — and releases
 * them newest first, once: on `close()`, `[Symbol.dispose]()`, or at process
 * exit (every fd is an `Fd`, whose exit hook runs release hooks in order).
 * Attach functions build links with `Parts`, which releases what was made
 * so far when a later step fails, so an error leaves nothing behind.
 *
 * A link that is a bpf_link (`isBpfLink`) can also be pinned, updated with
 * another program, detached, and described (BPF_OBJ_GET_INFO_BY_FD).
 */
import { LinkType, nameOf } from '../ebpf/types.js';
import { LinkInfo } from './attr.js';
import { fdById, linkDetach, linkUpdate, objGet, objInfo, objPin } from './bpf.js';
import { Fd } from './fd.js';

/** What attaching needs of a program: its fd and (for messages) its name. KernelProgram is one. */
export interface ProgramRef {
  readonly fd: number;
  readonly name: string;
}

/** One thing a link holds: an fd (closed) or an undo step (called). */
export type Part = Fd | { label: string; release: () => void };

function releasePart(p: Part): void {
  if (p instanceof Fd) p.close();
  else p.release();
}

/**
 * The parts of an attachment being built: `add()` each resource as it is
 * made; `fail()` releases them all (newest first) when a step throws.
 */
export class Parts {
  readonly list: Part[] = [];

  add<P extends Part>(p: P): P {
    this.list.push(p);
    return p;
  }

  /** An undo step without an fd (socket option, tracefs probe without a perf fd yet). */
  undo(label: string, release: () => void): void {
    this.list.push({ label, release });
  }

  /**
   * Move the undo steps added so far (not the fds) into `fd`'s release hook:
   * they then run right after that fd closes — at close(), or at process
   * exit with every other fd of the engine. A tracefs probe is handed to the
   * perf event that uses it, so it is removed once the event is gone.
   */
  handOver(fd: Fd): void {
    const steps: { label: string; release: () => void }[] = [];
    for (let i = this.list.length - 1; i >= 0; i--) {
      const p = this.list[i]!;
      if (!(p instanceof Fd)) {
        steps.push(p);
        this.list.splice(i, 1);
      }
    }
    if (steps.length === 0) return;
    const before = fd.onRelease;
    fd.onRelease = () => {
      before?.();
      for (const s of steps) {
        try {
          s.release();
        } catch {
          // Keep releasing.
        }
      }
    };
  }

  /** Release everything added so far, newest first; never throws. */
  releaseAll(): void {
    while (this.list.length > 0) {
      const p = this.list.pop()!;
      try {
        releasePart(p);
      } catch {
        // Keep releasing the rest.
      }
    }
  }
}

/** Build with `parts`; if `fn` throws, release whatever it made and rethrow. */
export function building<T>(fn: (parts: Parts) => T): T {
  const parts = new Parts();
  try {
    return fn(parts);
  } catch (err) {
    parts.releaseAll();
    throw err;
  }
}

export interface LinkInfoRecord {
  id: number;
  type: number;
  typeName: string;
  progId: number;
}

export class Link implements Disposable {
  #parts: Part[];
  #link: Fd | undefined;

  constructor(
    /** What kind of attachment: 'tracepoint', 'uprobe', 'xdp', ... */
    readonly kind: string,
    /** Where, as a person would write it: `syscalls:sys_enter_getppid`, `/usr/lib/libc.so.6:malloc`. */
    readonly target: string,
    parts: Parts | Part[],
    /** The bpf_link among the parts, when the attachment is one. */
    link?: Fd,
  ) {
    this.#parts = parts instanceof Parts ? [...parts.list] : [...parts];
    if (parts instanceof Parts) parts.list.length = 0;
    this.#link = link;
  }

  /** True when the attachment is a bpf_link (pinnable, updatable, listed by `bpftool link`). */
  get isBpfLink(): boolean {
    return this.#link !== undefined;
  }

  /** The bpf_link fd, or else the first fd the link holds (a perf event). */
  get fd(): number {
    if (this.#link) return this.#link.value;
    const first = this.#parts.find((p): p is Fd => p instanceof Fd);
    if (!first) throw new Error(`${this.kind} link ${this.target} holds no fd`);
    return first.value;
  }

  get closed(): boolean {
    return this.#parts.length === 0;
  }

  /** The fds this link holds (perf events per CPU, ...). */
  get fds(): number[] {
    return this.#parts.filter((p): p is Fd => p instanceof Fd && !p.closed).map((p) => p.value);
  }

  /** The kernel's description of the bpf_link. */
  info(): LinkInfoRecord {
    const link = this.#requireLink('info');
    const r = objInfo(link.value, LinkInfo, undefined, 'link info');
    return {
      id: r.id as number,
      type: r.type as number,
      typeName: nameOf(LinkType, r.type as number) ?? `type ${String(r.type)}`,
      progId: r.prog_id as number,
    };
  }

  /** The bpf_link's id (what `bpftool link` shows). */
  get id(): number {
    return this.info().id;
  }

  /** Pin the bpf_link on a bpf filesystem: it stays attached after this process closes it or exits. */
  pin(path: string): void {
    objPin(this.#requireLink('pin').value, path);
  }

  /** Replace the program of the bpf_link (atomically, for the hooks that allow it). */
  update(prog: ProgramRef, expected?: ProgramRef): void {
    linkUpdate(this.#requireLink('update').value, prog.fd, expected?.fd);
  }

  /** Detach the bpf_link now; the fd stays open (and useless) until close(). */
  detach(): void {
    linkDetach(this.#requireLink('detach').value);
  }

  /** Release everything, newest first. Idempotent; never throws. */
  close(): void {
    const parts = this.#parts;
    this.#parts = [];
    this.#link = undefined;
    while (parts.length > 0) {
      try {
        releasePart(parts.pop()!);
      } catch {
        // Keep releasing.
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #requireLink(what: string): Fd {
    if (!this.#link) {
      throw new Error(`${this.kind} ${this.target}: ${what} needs a bpf_link, and this attachment is ${this.closed ? 'closed' : 'not one'}`);
    }
    return this.#link;
  }

  /** A pinned bpf_link, opened (closing it does not detach while the pin stays). */
  static fromPin(path: string): Link {
    const fd = objGet(path, 0, `link pinned at ${path}`);
    return new Link('pinned', path, [fd], fd);
  }

  /** A bpf_link by id. */
  static fromId(id: number): Link {
    const fd = fdById('link', id);
    return new Link('link', `id ${id}`, [fd], fd);
  }
}

/** Attach flags shared by cgroup, tcx and netkit hooks (BPF_F_*). */
export const AttachFlags = {
  ALLOW_OVERRIDE: 1 << 0,
  ALLOW_MULTI: 1 << 1,
  REPLACE: 1 << 2,
  BEFORE: 1 << 3,
  AFTER: 1 << 4,
  ID: 1 << 5,
  LINK: 1 << 13,
} as const;
