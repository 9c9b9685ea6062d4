/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY: one perf event per slot (per CPU, by
 * convention). In the kernel a slot holds a perf event fd; in the VM a slot
 * is either empty or open, and an open slot collects the samples that
 * bpf_perf_event_output sends to it. `open()` opens one slot per CPU, as a
 * user-space perf reader does; `read()` drains the samples.
 */
import { Errno } from '../../ebpf/engine.js';
import { u32Key } from './keys.js';
import { FdArray } from './fd-array.js';

export interface PerfSample {
  /** The slot (CPU) the sample was sent to. */
  cpu: number;
  data: Uint8Array;
}

export class PerfEventArrayMap extends FdArray {
  private readonly samples: PerfSample[] = [];

  protected override accept(): number {
    return 0;
  }

  /** Open the slots 0..cpus-1 (at most max_entries) so that samples sent to them are kept. */
  open(): this {
    const n = Math.min(this.host.cpus, this.spec.maxEntries);
    for (let cpu = 0; cpu < n; cpu++) this.update(u32Key(cpu), u32Key(cpu + 1));
    return this;
  }

  /** bpf_perf_event_output: 0 or an errno (E2BIG: index out of range, ENOENT: slot not open). */
  output(index: number, data: Uint8Array): number {
    if (index >= this.spec.maxEntries) return Errno.E2BIG;
    if (this.at(index) === 0) return Errno.ENOENT;
    if (index !== this.host.env.cpu) return Errno.EOPNOTSUPP;
    this.samples.push({ cpu: index, data });
    return 0;
  }

  /** Take the samples sent so far, oldest first. */
  read(): PerfSample[] {
    return this.samples.splice(0);
  }
}
