/**
 * Finding programs and maps already in the kernel (system-wide, like
 * bpftool): list them by id, open one by id, pin path, name or tag.
 */
import { UsageError } from '../errors.js';
import { fdById, listIds } from './bpf.js';
import { KernelError } from './errors.js';
import { KernelMap, mapInfo, type MapInfoRecord } from './map.js';
import { fdKind } from './pin.js';
import { KernelProgram, programInfo, type ProgramInfo } from './program.js';
import { objGet } from './bpf.js';

/** How a command names an object: `id N`, `pinned PATH`, `name NAME` or (programs) `tag HEX`. */
export type ObjectRef = { id: number } | { pinned: string } | { name: string } | { tag: string };

const ENOENT = 2;

function eachInfo<T>(kind: 'prog' | 'map', read: (fd: number) => T): T[] {
  const out: T[] = [];
  for (const id of listIds(kind)) {
    let fd;
    try {
      fd = fdById(kind, id);
    } catch (err) {
      // Gone between listing and opening.
      if (err instanceof KernelError && err.errno === ENOENT) continue;
      throw err;
    }
    try {
      out.push(read(fd.value));
    } finally {
      fd.close();
    }
  }
  return out;
}

/** Every program loaded in the kernel. */
export function listPrograms(): ProgramInfo[] {
  return eachInfo('prog', programInfo);
}

/** Every map in the kernel. */
export function listMaps(): MapInfoRecord[] {
  return eachInfo('map', mapInfo);
}

/** Parse `id 5`, `pinned /sys/fs/bpf/x`, `name foo`, `tag 0123...` (bpftool's way of naming objects). */
export function parseObjectRef(words: readonly string[], what: 'program' | 'map'): ObjectRef {
  const [kind, value, ...rest] = words;
  const usage = `name a ${what} as: id N | pinned PATH | name NAME${what === 'program' ? ' | tag HEX' : ''}`;
  if (!kind || value === undefined || rest.length > 0) throw new UsageError(`${words.length ? `'${words.join(' ')}': ` : ''}${usage}`);
  switch (kind) {
    case 'id': {
      const id = Number(value);
      if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`${what} id must be a positive integer, not '${value}'`);
      return { id };
    }
    case 'pinned':
      return { pinned: value };
    case 'name':
      return { name: value };
    case 'tag':
      if (what === 'program' && /^[0-9a-f]{16}$/i.test(value)) return { tag: value.toLowerCase() };
      throw new UsageError(`a tag is 16 hex digits, not '${value}'`);
    default:
      throw new UsageError(`'${kind}': ${usage}`);
  }
}

function describe(ref: ObjectRef): string {
  if ('id' in ref) return `id ${ref.id}`;
  if ('pinned' in ref) return `pinned ${ref.pinned}`;
  if ('name' in ref) return `name ${ref.name}`;
  return `tag ${ref.tag}`;
}

/** Open the programs `ref` names (a name or tag may match several). Throws when none does. */
export function openPrograms(ref: ObjectRef): KernelProgram[] {
  if ('id' in ref) return [KernelProgram.fromId(ref.id)];
  if ('pinned' in ref) {
    const fd = objGet(ref.pinned);
    if (fdKind(fd.value) !== 'prog') {
      fd.close();
      throw new UsageError(`${ref.pinned} is not a pinned program`);
    }
    return [KernelProgram.fromFd(fd)];
  }
  const match = listPrograms().filter((p) => ('name' in ref ? p.name === ref.name : p.tag === ref.tag));
  if (match.length === 0) throw new UsageError(`no program with ${describe(ref)}`);
  return match.map((p) => KernelProgram.fromId(p.id));
}

/** Open the maps `ref` names. Throws when none does. */
export function openMaps(ref: ObjectRef): KernelMap[] {
  if ('tag' in ref) throw new UsageError('maps have no tag: name a map by id, pinned path or name');
  if ('id' in ref) return [KernelMap.fromId(ref.id)];
  if ('pinned' in ref) {
    const fd = objGet(ref.pinned);
    if (fdKind(fd.value) !== 'map') {
      fd.close();
      throw new UsageError(`${ref.pinned} is not a pinned map`);
    }
    return [KernelMap.fromFd(fd)];
  }
  const match = listMaps().filter((m) => m.name === ref.name);
  if (match.length === 0) throw new UsageError(`no map with ${describe(ref)}`);
  return match.map((m) => KernelMap.fromId(m.id));
}
