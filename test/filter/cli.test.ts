/** `bpfkit filter`: output formats, options and errors, through the CLI entry point. */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatD, formatDD, formatDDD, parseD } from '../../src/cbpf/index.js';
import { compile } from '../../src/filter/index.js';
import { REPO } from '../support/paths.js';

function bpfkit(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: REPO });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('bpfkit filter', () => {
  it('prints -d (default), -dd and -ddd like tcpdump', () => {
    const prog = compile('tcp port 80');
    expect(bpfkit('filter', 'tcp', 'port', '80').stdout).toBe(formatD(prog));
    expect(bpfkit('filter', '-d', 'tcp port 80').stdout).toBe(formatD(prog));
    expect(bpfkit('filter', '--dd', 'tcp port 80').stdout).toBe(formatDD(prog));
    expect(bpfkit('filter', '-d', '-d', '-d', 'tcp port 80').stdout).toBe(formatDDD(prog));
    // Written together, as tcpdump users type them.
    expect(bpfkit('filter', '-dd', 'tcp port 80').stdout).toBe(formatDD(prog));
    expect(bpfkit('filter', '-ddd', 'tcp port 80').stdout).toBe(formatDDD(prog));
    expect(bpfkit('filter', '-Odd', 'ip').stdout).toBe(formatDD(compile('ip', { optimize: false })));
    // The text parses back into the same program.
    expect(parseD(bpfkit('filter', 'tcp port 80').stdout)).toEqual(prog);
  });

  it("prints what Debian's tcpdump -d prints, where both compile the same program (same layout)", () => {
    // Expressions whose program Debian's libpcap 1.10.3 and bpfkit agree on, instruction for
    // instruction, with and without the optimiser: the text must then be the same too.
    const same = ['ip', 'tcp', 'tcp port 80', 'ip[2:2] > 576', 'icmp or arp', 'ether broadcast or ether multicast', 'ip6 and udp port 53', 'vlan and ip', 'vlan 100 and tcp dst port 443'];
    for (const e of same) {
      for (const o of [[], ['-O']]) {
        const theirs = execFileSync('tcpdump', [...o, '-d', e], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        expect(bpfkit('filter', ...o, '-d', e).stdout, `${o.join(' ')} ${e}`).toBe(theirs);
      }
    }
  });

  it('takes -y, -s and -O', () => {
    expect(bpfkit('filter', '-y', 'RAW', '-s', '1500', 'ip').stdout).toBe(formatD(compile('ip', { linkType: 'RAW', snaplen: 1500 })));
    expect(bpfkit('filter', '-O', 'ip and ip').stdout).toBe(formatD(compile('ip and ip', { optimize: false })));
    expect(bpfkit('filter', '--dot', 'ip').stdout).toMatch(/^digraph unoptimized/);
  });

  it('explains bad input without a stack trace', () => {
    const r = bpfkit('filter', 'tcp port 80 and (');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("bpfkit: can't parse filter expression: syntax error (column 18)\n  tcp port 80 and (\n                   ^\n");
    const s = bpfkit('filter', '-y', 'MTP2', 'ip');
    expect(s.status).toBe(1);
    expect(s.stderr).toMatch(/^bpfkit: link-layer type filtering not implemented for DLT_MTP2\n/);
    const u = bpfkit('filter', '-y', 'NOSUCH', 'ip');
    expect(u.stderr).toMatch(/^bpfkit: unknown link type 'NOSUCH'/);
    expect(bpfkit('filter', '-y', 'IPV4', 'ip6 and igmp').stderr).toMatch(/^bpfkit: expression rejects all packets/);
  });
});
