/**
 * Release at process exit: a process that makes maps and programs and exits
 * without closing them leaves nothing behind, and the engine's exit hook
 * runs the release hooks of what it held (what links, probes and mounts of
 * the attach layer use to undo themselves).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/kernel/errors.js';
import { fdById } from '../../src/kernel/bpf.js';
import { REPO } from '../support/paths.js';
import { CAN_BPF, SKIP_REASON, nothingLeft } from './support/kernel.js';

if (!CAN_BPF) describe('release at exit', () => it.skip(SKIP_REASON, () => {}));

const CHILD = `
import { createMap, loadProgram, Fd } from './src/kernel/index.ts';
import { openSync, writeFileSync } from 'node:fs';
const m = createMap({ name: 'exit_map', type: 2, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 });
const p = loadProgram({ name: 'exit_prog', type: 1, license: 'GPL', references: [],
  instructions: [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }] });
const extra = new Fd(openSync('/dev/null', 'r'), 'stands for a probe of the attach layer');
extra.onRelease = () => writeFileSync(process.env.MARKER, 'released');
console.log(JSON.stringify({ map: m.info().id, prog: p.info().id }));
process.exit(0);
`;

describe.skipIf(!CAN_BPF)('release at exit', () => {
  it('a process that exits without closing leaves no map or program, and its release hooks run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-exit-'));
    try {
      const marker = join(dir, 'marker');
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, MARKER: marker },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const ids = JSON.parse(r.stdout) as { map: number; prog: number };
      expect(ids.map).toBeGreaterThan(0);
      expect(() => fdById('map', ids.map)).toThrow(KernelError);
      expect(() => fdById('prog', ids.prog)).toThrow(expect.objectContaining({ errnoName: 'ENOENT' }));
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on SIGTERM (with releaseOnSignals) the release hooks run and the process still dies of the signal', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfkit-exit-'));
    try {
      const marker = join(dir, 'marker');
      const child = `
        import { Fd, releaseOnSignals } from './src/kernel/index.ts';
        import { openSync, writeFileSync } from 'node:fs';
        releaseOnSignals();
        const f = new Fd(openSync('/dev/null', 'r'), 'stands for a tracefs probe');
        f.onRelease = () => writeFileSync(process.env.MARKER, 'released');
        setTimeout(() => process.kill(process.pid, 'SIGTERM'), 10);
        setTimeout(() => {}, 10000);
      `;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, MARKER: marker },
        timeout: 60_000,
      });
      expect(r.signal).toBe('SIGTERM');
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('nothing the tests made is left: no engine fd, no BPF or perf fd, no bpffs mount', () => {
    expect(nothingLeft()).toEqual({ engineFds: [], processFds: [], mounts: [] });
  });
});
