/**
 * Driving a reader on Node's event loop without blocking it. Readers of
 * mmap'ed rings (ring buffer, perf buffer) need no system call to see new
 * data: the producer position is in shared memory. Two ways to wait:
 *
 * - 'poll' (default): look at the ring from setImmediate while records keep
 *   coming, and back off with timers (1 ms doubling to `maxIdleMs`) when
 *   idle. Costs no thread; latency when idle is at most `maxIdleMs`.
 * - 'epoll': block in epoll_wait on one of libuv's pool threads (koffi's
 *   async call), woken by the kernel when records arrive, or by an eventfd
 *   when stopped. Lowest idle latency; occupies one pool thread per reader
 *   (UV_THREADPOOL_SIZE, 4 by default, is shared with fs and dns).
 *
 * bench/kernel.bench.ts measures both.
 */
import { kernelError } from './errors.js';
import { Fd } from './fd.js';
import * as sys from './sys.js';

export type WaitMode = 'poll' | 'epoll';

export interface PollOptions {
  /** How to wait for records (default 'poll'). */
  mode?: WaitMode;
  /** Longest sleep between looks at an idle ring in 'poll' mode, ms (default 10). */
  maxIdleMs?: number;
}

/** An epoll instance over some fds, plus an eventfd to wake a blocked wait. */
export class Epoll {
  readonly #ep: Fd;
  readonly #wake: Fd;
  readonly #events: sys.NativeBuffer;
  readonly #one: sys.NativeBuffer;
  #waiting = false;

  constructor(fds: readonly number[], label: string) {
    const ep = sys.epollCreate();
    if (ep < 0) throw kernelError('epoll_create', -ep);
    this.#ep = new Fd(ep, `epoll ${label}`);
    let wakeFd: Fd | undefined;
    try {
      const wake = sys.eventfd();
      if (wake < 0) throw kernelError('eventfd', -wake);
      wakeFd = new Fd(wake, `eventfd ${label}`);
      for (const fd of [...fds, wake]) {
        const r = sys.epollCtl(ep, sys.EPOLL_CTL_ADD, fd, sys.EPOLLIN, fd);
        if (r < 0) throw kernelError('epoll_ctl', -r);
      }
    } catch (err) {
      wakeFd?.close();
      this.#ep.close();
      throw err;
    }
    this.#wake = wakeFd;
    this.#events = new sys.NativeBuffer(sys.EPOLL_EVENT_SIZE * (fds.length + 1));
    this.#one = new sys.NativeBuffer(8);
  }

  /** Ready fds now (timeout 0). */
  ready(): number[] {
    const n = sys.epollWait(this.#ep.value, this.#events, this.#events.size / sys.EPOLL_EVENT_SIZE, 0);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      out.push(Number(this.#events.view.getBigUint64(i * sys.EPOLL_EVENT_SIZE + sys.EPOLL_DATA_OFFSET, true)));
    }
    return out;
  }

  /** Block on a pool thread until something is ready (or wake() is called), then call back on the loop. */
  waitAsync(done: () => void): void {
    if (this.#waiting) return;
    this.#waiting = true;
    sys.epollWaitAsync(this.#ep.value, this.#events, this.#events.size / sys.EPOLL_EVENT_SIZE, -1, () => {
      this.#waiting = false;
      this.drainWake();
      done();
    });
  }

  get waiting(): boolean {
    return this.#waiting;
  }

  /** Make a blocked waitAsync return. */
  wake(): void {
    this.#one.view.setBigUint64(0, 1n, true);
    sys.write(this.#wake.value, this.#one, 8);
  }

  private drainWake(): void {
    if (!this.#wake.closed) sys.read(this.#wake.value, this.#one, 8);
  }

  close(): void {
    if (this.#ep.closed) return;
    if (this.#waiting) {
      // The pool thread still uses the epoll fd and the events buffer: wake it, release when it returns.
      this.wake();
      const finish = () => this.release();
      const poll = () => (this.#waiting ? setImmediate(poll) : finish());
      setImmediate(poll);
      return;
    }
    this.release();
  }

  private release(): void {
    this.#wake.close();
    this.#ep.close();
    this.#events.free();
    this.#one.free();
  }
}

/**
 * Calls `step` on the event loop until stopped: `step` consumes what is
 * there and returns how many records it delivered; 0 means idle.
 */
export class PollLoop {
  #running = false;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #idleMs = 0;
  readonly #mode: WaitMode;
  readonly #maxIdle: number;

  constructor(
    private readonly step: () => number,
    private readonly epoll: Epoll | undefined,
    options: PollOptions = {},
  ) {
    this.#mode = options.mode ?? 'poll';
    this.#maxIdle = options.maxIdleMs ?? 10;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#idleMs = 0;
    this.schedule(0);
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) {
      clearTimeout(this.#timer as NodeJS.Timeout);
      clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    if (this.epoll?.waiting) this.epoll.wake();
  }

  private schedule(ms: number): void {
    if (!this.#running) return;
    if (this.#mode === 'epoll' && this.epoll && ms > 0) {
      this.epoll.waitAsync(() => this.tick());
      return;
    }
    this.#timer = ms === 0 ? setImmediate(() => this.tick()) : setTimeout(() => this.tick(), ms);
  }

  private tick(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    const n = this.step();
    if (n > 0) {
      this.#idleMs = 0;
      this.schedule(0);
    } else {
      this.#idleMs = this.#idleMs === 0 ? 1 : Math.min(this.#idleMs * 2, this.#maxIdle);
      this.schedule(this.#idleMs);
    }
  }
}

/**
 * An async-iterable queue fed by a PollLoop: `push` from the loop, `for
 * await` on the other side. Above `highWater` queued items the loop pauses
 * (the kernel ring then holds, or drops, what comes), so a slow consumer
 * does not grow memory without bound.
 */
export class RecordQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #waiters: ((r: IteratorResult<T>) => void)[] = [];
  #ended = false;
  #error: unknown;

  constructor(
    private readonly onDemand: () => void,
    private readonly onFull: () => void,
    private readonly highWater = 4096,
  ) {}

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    const w = this.#waiters.shift();
    if (w) {
      w({ value: item, done: false });
      return;
    }
    this.#items.push(item);
    if (this.size >= this.highWater) this.onFull();
  }

  end(error?: unknown): void {
    this.#ended = true;
    this.#error = error;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.size > 0) {
          const value = this.#items[this.#head++]!;
          if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
            this.#items = this.#items.slice(this.#head);
            this.#head = 0;
          }
          if (this.size < this.highWater / 2) this.onDemand();
          return Promise.resolve({ value, done: false });
        }
        if (this.#ended) {
          if (this.#error) return Promise.reject(this.#error);
          return Promise.resolve({ value: undefined, done: true });
        }
        this.onDemand();
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
