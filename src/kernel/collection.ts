/**
 * A CollectionSpec made live: every map created (or reused from a pin),
 * initial contents and global data written, read-only globals frozen, then
 * every program loaded against those maps, then program-array entries
 * filled. On any failure everything made so far is closed (and pins made by
 * this load removed), so an error leaves nothing behind.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectionHandle } from '../ebpf/engine.js';
import type { CollectionSpec, MapSpec, VariableSpec } from '../ebpf/spec.js';
import { UsageError } from '../errors.js';
import { KernelError } from './errors.js';
import { loadBtf, type KernelBtf } from './btf-load.js';
import { KernelMap, createMap } from './map.js';
import { pinName } from './pin.js';
import { KernelProgram, loadProgram, type LoadProgramOptions } from './program.js';

export interface LoadCollectionOptions {
  /** Use these live maps instead of creating the maps of the same name (not closed by the collection). */
  maps?: Record<string, KernelMap>;
  /** Directory on a bpf filesystem for maps with `pinning: 'byName'`: reused when pinned and compatible, pinned when new. */
  pinPath?: string;
  /**
   * The collection's BTF already loaded (for map key/value types and func/line
   * info). By default spec.btf is loaded and closed with the collection;
   * `false` loads without BTF.
   */
  btf?: KernelBtf | false;
  /** Per-program load options (func/line info, attach BTF ids, log level). */
  programs?: Record<string, Omit<LoadProgramOptions, 'maps'>>;
  /** Options applied to every program (overridden per program). */
  programDefaults?: Omit<LoadProgramOptions, 'maps'>;
  /** Load only these programs (default: all but those with `autoload: false`, libbpf's SEC("?...")). */
  only?: string[];
}

export class KernelCollection implements CollectionHandle {
  #owned: KernelMap[];
  #btf: KernelBtf | undefined;

  constructor(
    readonly programs: Record<string, KernelProgram>,
    readonly maps: Record<string, KernelMap>,
    owned: KernelMap[],
    btf?: KernelBtf,
    /** Where each global variable lives (from the spec): its data map, offset and size. */
    readonly variables: Readonly<Record<string, VariableSpec>> = {},
  ) {
    this.#owned = owned;
    this.#btf = btf;
  }

  private variable(name: string): { map: KernelMap; v: VariableSpec } {
    const v = this.variables[name];
    if (!v) throw new UsageError(`the collection has no global variable "${name}"`);
    const map = this.maps[v.map];
    if (!map) throw new UsageError(`global variable "${name}" lives in map "${v.map}", which the collection does not have`);
    return { map, v };
  }

  /** The current bytes of a global variable, as the programs see them (read from its data map). */
  readVariable(name: string): Uint8Array {
    const { map, v } = this.variable(name);
    const value = map.lookup(new Uint8Array(map.spec.keySize));
    if (!value) throw new UsageError(`the data map of global variable "${name}" has no value`);
    return value.slice(v.offset, v.offset + v.size);
  }

  /** Set a global variable while the programs run (refused with EPERM for frozen .rodata). */
  writeVariable(name: string, bytes: Uint8Array): void {
    const { map, v } = this.variable(name);
    if (bytes.length !== v.size) throw new UsageError(`global variable "${name}" is ${v.size} bytes, got ${bytes.length}`);
    const key = new Uint8Array(map.spec.keySize);
    const value = map.lookup(key);
    if (!value) throw new UsageError(`the data map of global variable "${name}" has no value`);
    value.set(bytes, v.offset);
    map.update(key, value);
  }

  close(): void {
    for (const p of Object.values(this.programs)) p.close();
    for (const m of this.#owned) m.close();
    this.#owned = [];
    this.#btf?.close();
    this.#btf = undefined;
  }
}

const isProgramRef = (v: unknown): v is { program: string } => typeof v === 'object' && v !== null && 'program' in v;

export function loadCollection(spec: CollectionSpec, options: LoadCollectionOptions = {}): KernelCollection {
  const maps: Record<string, KernelMap> = {};
  const owned: KernelMap[] = [];
  const programs: Record<string, KernelProgram> = {};
  const pinnedHere: string[] = [];
  const fresh = new Set<string>();
  let ownBtf: KernelBtf | undefined;
  try {
    let btf = options.btf || undefined;
    if (options.btf === undefined && spec.btf?.length) {
      const strings = Object.values(spec.programs).flatMap((p) => (p.lineInfo ?? []).flatMap((l) => [l.fileName, l.line]));
      btf = ownBtf = loadBtf(spec.btf, { strings });
    }
    const btfFd = btf?.fd;
    // 1. Maps, empty.
    for (const [name, ms] of Object.entries(spec.maps)) {
      const given = options.maps?.[name];
      if (given) {
        maps[name] = given;
        continue;
      }
      if (ms.pinning === 'byName' && options.pinPath) {
        const path = join(options.pinPath, pinName(ms.name || name));
        const existing = openPinned(path, ms);
        if (existing) {
          maps[name] = existing;
          owned.push(existing);
          continue;
        }
        const m = createMap(ms, { btfFd, deferContents: true });
        maps[name] = m;
        owned.push(m);
        fresh.add(name);
        m.pin(path);
        pinnedHere.push(path);
        continue;
      }
      const m = createMap(ms, { btfFd, deferContents: true });
      maps[name] = m;
      owned.push(m);
      fresh.add(name);
    }
    const mapFd = (ref: { map: string }) => {
      const m = maps[ref.map];
      if (!m) throw new UsageError(`a map entry refers to map "${ref.map}", which the collection does not have`);
      return m.fd;
    };
    // 2. Contents that do not need programs; freeze read-only globals before any program sees them.
    for (const name of fresh) {
      const ms = spec.maps[name]!;
      const m = maps[name]!;
      writeData(m, ms);
      for (const e of ms.contents ?? []) {
        if (e.value instanceof Uint8Array) m.update(e.key, e.value);
        else if (!isProgramRef(e.value)) m.updateFd(e.key, mapFd(e.value));
      }
      if (ms.freeze) m.freeze();
    }
    // 3. Programs.
    const wanted = options.only ?? Object.keys(spec.programs).filter((n) => spec.programs[n]!.autoload !== false);
    for (const name of wanted) {
      const ps = spec.programs[name];
      if (!ps) throw new UsageError(`the collection has no program "${name}"`);
      programs[name] = loadProgram(ps, {
        btf,
        ...options.programDefaults,
        ...options.programs?.[name],
        maps,
      });
    }
    // 4. Program arrays.
    for (const name of fresh) {
      const ms = spec.maps[name]!;
      for (const e of ms.contents ?? []) {
        if (!isProgramRef(e.value)) continue;
        const p = programs[e.value.program];
        if (!p) throw new UsageError(`map "${name}" refers to program "${e.value.program}", which was not loaded`);
        maps[name]!.updateFd(e.key, p.fd);
      }
    }
    const variables: Record<string, VariableSpec> = {};
    for (const [name, v] of Object.entries(spec.variables ?? {})) variables[name] = { name: v.name, map: v.map, offset: v.offset, size: v.size };
    return new KernelCollection(programs, maps, owned, ownBtf, variables);
  } catch (err) {
    for (const p of Object.values(programs)) p.close();
    for (const m of owned) m.close();
    for (const path of pinnedHere) rmSync(path, { force: true });
    ownBtf?.close();
    throw err;
  }
}

function writeData(m: KernelMap, ms: MapSpec): void {
  if (!ms.data || ms.data.length === 0) return;
  const value = new Uint8Array(ms.valueSize);
  value.set(ms.data.subarray(0, ms.valueSize));
  m.update(new Uint8Array(ms.keySize), value);
}

/** The map pinned at `path` when there is one (checked against `spec`), else undefined. */
function openPinned(path: string, spec: MapSpec): KernelMap | undefined {
  try {
    return KernelMap.fromPin(path, spec);
  } catch (err) {
    if (err instanceof KernelError && err.errno === 2) return undefined;
    throw err;
  }
}
