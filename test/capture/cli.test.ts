/**
 * `bpfkit read`, run as the built command (dist/cli/main.js, which `npm test`
 * builds first), against tcpdump: summaries, --count, -c, -w (pcap and
 * pcapng, which libpcap must read back as tcpdump's own -w output), -F
 * program files, standard input, unknown link types, and bad input (missing
 * files, libpcap's invalid savefiles, damage in the middle, a cut last record).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandNames, registerAll } from '../../src/cli/commands.js';
import { readCaptureSync } from '../../src/capture/index.js';
import { libpcapPacketsOf } from '../support/libpcap.js';
import { CORPUS, LIBPCAP_CONFORMANCE, REPO, TMP } from '../support/paths.js';
import { concat, epb, idb, payload, shb } from './build.js';

const EXE = resolve(REPO, 'dist/cli/main.js');
const OUT = resolve(TMP, 'capture-cli');
mkdirSync(OUT, { recursive: true });
const LOOPBACK = resolve(REPO, 'examples/loopback.pcap');
const env = { ...process.env, TZ: 'UTC' };

function bpfkit(
  args: string[],
  input?: Uint8Array,
  extraEnv: Record<string, string> = {},
): { code: number; out: string; err: string; stdout: Buffer } {
  const r = spawnSync(process.execPath, [EXE, ...args], { env: { ...env, ...extraEnv }, input, maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8'), stdout: r.stdout };
}

function tcpdump(args: string[]): { out: string; err: string } {
  const r = spawnSync('tcpdump', args, { env, maxBuffer: 1 << 28 });
  return { out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8') };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);
const corpusFile = (name: string): string => resolve(CORPUS, name);

describe('bpfkit read', () => {
  it('prints what tcpdump -n prints for the README capture and filter', () => {
    const ours = bpfkit(['read', '-r', LOOPBACK, 'tcp port 80']);
    const theirs = tcpdump(['-n', '-r', LOOPBACK, 'tcp port 80']);
    expect(ours.code).toBe(0);
    expect(lines(ours.out).length).toBeGreaterThan(100);
    expect(lines(ours.out)).toEqual(lines(theirs.out));
    expect(ours.err).toBe(theirs.err);
  });

  it('the bpfkit command (package.json bin: an sh script starting node on the start-up snapshot) reads as tcpdump, with or without the snapshot', () => {
    const pkg = JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as { bin: { bpfkit: string } };
    const bin = resolve(REPO, pkg.bin.bpfkit);
    expect(readFileSync(bin, 'utf8')).toContain('--snapshot-blob');
    expect(existsSync(resolve(REPO, 'dist/cli/bpfkit.blob'))).toBe(true);
    // The script really takes the snapshot with the node that built it (sh -x shows the exec).
    const traced = spawnSync('sh', ['-x', bin, '--version'], { env: { ...env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(traced.stderr).toMatch(/exec \S*node (--[\w-]+ )*--snapshot-blob \S*bpfkit\.blob -- --version/);
    // V8 flags in NODE_OPTIONS would make V8 refuse the snapshot: the script runs the launcher then.
    const withOptions = spawnSync('sh', ['-x', bin, 'read', '--count', '-r', LOOPBACK, 'tcp port 80'], {
      env: { ...env, NODE_OPTIONS: '--max-old-space-size=2000' },
      encoding: 'utf8',
    });
    expect(withOptions.status).toBe(0);
    expect(withOptions.stderr).not.toMatch(/--snapshot-blob/);
    expect(withOptions.stdout).toBe(`${lines(tcpdump(['-n', '-r', LOOPBACK, 'tcp port 80']).out).length} packets\n`);
    const theirs = tcpdump(['-n', '-r', LOOPBACK, 'tcp port 80']);
    const count = tcpdump(['-n', '-r', LOOPBACK, 'ip6 or udp']);
    for (const snapshot of ['on', 'off']) {
      // NODE_EXTRA_CA_CERTS naming a missing file would make node warn as it starts: the script starts node without it.
      const run = (args: string[]) =>
        spawnSync(bin, args, { env: { ...env, NODE_OPTIONS: '', BPFKIT_SNAPSHOT: snapshot, NODE_EXTRA_CA_CERTS: resolve(OUT, 'no-such-ca.pem') } });
      const r = run(['read', '-r', LOOPBACK, 'tcp port 80']);
      expect(r.status).toBe(0);
      expect(lines(r.stdout.toString())).toEqual(lines(theirs.out));
      expect(r.stderr.toString()).toBe(theirs.err);
      // Another expression than the snapshot was warmed with, and commands and errors the snapshot did not run.
      expect(run(['read', '--count', '-r', LOOPBACK, 'ip6 or udp']).stdout.toString()).toBe(`${lines(count.out).length} packets\n`);
      const missing = run(['read', '-r', resolve(OUT, 'no-such.pcap')]);
      expect(missing.status).toBe(1);
      expect(missing.stderr.toString()).toMatch(/^bpfkit: .*no-such\.pcap: No such file or directory\n$/);
      const bad = run(['read', '-r', LOOPBACK, 'tcp port']);
      expect(bad.status).toBe(1);
      expect(bad.stderr.toString()).toMatch(/^bpfkit: can't parse filter expression/);
      // Options first: bpfkit's, not node's (the script ends node's options before the arguments).
      const version = (JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as { version: string }).version;
      expect(run(['--version']).stdout.toString()).toBe(`${version}\n`);
      expect(run(['--help']).stdout.toString()).toMatch(/^Usage: bpfkit /);
      const prog = run(['filter', '-ddd', 'tcp port 80']);
      expect(prog.status).toBe(0);
      expect(prog.stdout.toString()).toBe(bpfkit(['filter', '-ddd', 'tcp port 80']).out);
      expect(prog.stdout.toString()).toMatch(/^\d+\n(\d+ \d+ \d+ \d+\n)+$/);
    }
  });

  it('--count and -c agree with tcpdump across files and expressions', () => {
    const cases: [string, string][] = [
      ['examples/loopback.pcap', 'tcp port 80'],
      ['examples/loopback.pcap', 'ip6 and tcp'],
      ['examples/loopback.pcap', 'tcp[tcpflags] & tcp-syn != 0'],
      ['examples/loopback.pcap', 'not ip'],
      [corpusFile('dns_udp.pcap'), 'udp port 53'],
      [corpusFile('802.1ad_QinQ.pcap'), 'vlan and vlan and arp'],
      [corpusFile('vxlan.pcap'), 'udp port 4789'],
      [corpusFile('pppoes.pcap'), 'pppoes'],
      [corpusFile('RADIUS-RFC4675.pcap'), 'udp port 1812'], // LINUX_SLL
      [corpusFile('dns-badcookie.pcap'), 'ip and udp'], // NULL
      [corpusFile('LINKTYPE_RAW_ipv6.pcap'), 'ip6'], // RAW
      [corpusFile('dhcp-option-108.pcapng'), 'udp'], // pcapng
    ];
    for (const [file, expr] of cases) {
      const path = resolve(REPO, file);
      const want = /^(\d+) packets?/.exec(tcpdump(['-r', path, '--count', expr]).out)![1];
      const got = bpfkit(['read', '-r', path, '--count', expr]);
      expect(got.code, `${file} ${expr}: ${got.err}`).toBe(0);
      expect(got.out.trim(), `${file} ${expr}`).toBe(`${want} packet${want === '1' ? '' : 's'}`);
      if (file.endsWith('loopback.pcap') && Number(want) > 3) {
        const first = bpfkit(['read', '-r', path, '-c', '3', expr]);
        expect(lines(first.out), file).toEqual(lines(tcpdump(['-n', '-r', path, '-c', '3', expr]).out));
      }
    }
  });

  it('-w writes what tcpdump -w writes, as pcap or pcapng by extension or like the input', () => {
    const ref = resolve(OUT, 'ref.pcap');
    execFileSync('tcpdump', ['-r', LOOPBACK, '-w', ref, 'tcp port 80'], { stdio: 'ignore' });
    const outs = ['w.pcap', 'w.pcapng', 'w.out'].map((n) => resolve(OUT, n));
    for (const o of outs) {
      const r = bpfkit(['read', '-r', LOOPBACK, '-w', o, 'tcp port 80']);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe('');
    }
    const formats = outs.map((o) => readCaptureSync(readFileSync(o)).info.format);
    expect(formats).toEqual(['pcap', 'pcapng', 'pcap']);
    const [want, ...got] = libpcapPacketsOf([ref, ...outs]);
    for (const g of got) {
      expect(g.error).toBeUndefined();
      expect(g.linkType).toBe(want!.linkType);
      expect(g.packets.length).toBe(want!.packets.length);
      expect(g.packets).toEqual(want!.packets);
    }
    // pcapng in, no extension: pcapng out, interfaces kept.
    const ng = corpusFile('dhcp-option-108.pcapng');
    const o = resolve(OUT, 'ng.out');
    expect(bpfkit(['read', '-r', ng, '-w', o]).code).toBe(0);
    const back = readCaptureSync(readFileSync(o));
    expect(back.info.format).toBe('pcapng');
    expect(back.packets.length).toBe(2);
    expect(back.interfaces[0]!.snaplen).toBe(524288);
    // To standard output.
    const piped = bpfkit(['read', '-r', LOOPBACK, '-w', '-', 'tcp port 80']);
    expect(readCaptureSync(piped.stdout).packets.length).toBe(want!.packets.length);
  });

  it('-F reads programs in tcpdump -ddd, -dd and -d form', () => {
    const want = bpfkit(['read', '-r', LOOPBACK, 'tcp port 80']).out;
    for (const flag of ['-ddd', '-dd', '-d']) {
      const prog = execFileSync('tcpdump', [flag, '-y', 'EN10MB', 'tcp port 80'], { encoding: 'utf8' });
      const file = resolve(OUT, `prog${flag}`);
      writeFileSync(file, prog);
      const r = bpfkit(['read', '-r', LOOPBACK, '-F', file]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(want);
    }
    expect(bpfkit(['read', '-r', LOOPBACK, '-F', resolve(OUT, 'prog-ddd'), 'tcp']).err).toMatch(/^bpfkit: give either/);
  });

  it('reads standard input with -r -', () => {
    const r = bpfkit(['read', '-r', '-', 'tcp port 80'], readFileSync(LOOPBACK));
    expect(r.code).toBe(0);
    expect(r.out).toBe(bpfkit(['read', '-r', LOOPBACK, 'tcp port 80']).out);
    expect(r.err).toMatch(/^reading from file -, link-type EN10MB/);
  });

  it('reads, filters (-F) and writes packets of unknown link types', () => {
    const file = corpusFile('unsupported-link-type-160.pcap');
    const all = bpfkit(['read', '-r', file]);
    expect(all.code).toBe(0);
    expect(lines(all.out)[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{6} unknown link type 160 \(USER13\), length \d+$/);
    const accept = resolve(OUT, 'accept.ddd');
    writeFileSync(accept, '1\n6 0 0 262144\n');
    const reject = resolve(OUT, 'reject.ddd');
    writeFileSync(reject, '1\n6 0 0 0\n');
    expect(bpfkit(['read', '-r', file, '--count', '-F', accept]).out).toBe(`${lines(all.out).length} packet${lines(all.out).length === 1 ? '' : 's'}\n`);
    expect(bpfkit(['read', '-r', file, '--count', '-F', reject]).out).toBe('0 packets\n');
    const o = resolve(OUT, 'lt160.pcap');
    expect(bpfkit(['read', '-r', file, '-w', o, '-F', accept]).code).toBe(0);
    const back = readCaptureSync(readFileSync(o));
    expect(back.info.linkType).toBe(160);
    expect(back.packets.length).toBe(lines(all.out).length);
  });

  it('-y takes the packets to be of another link type, for filtering, printing and writing', () => {
    const file = corpusFile('LINKTYPE_IPV4.pcap'); // LINKTYPE_IPV4 (228): raw IPv4
    const asRaw = bpfkit(['read', '-r', file, '-y', 'RAW', 'udp port 53']);
    expect(asRaw.code, asRaw.err).toBe(0);
    expect(asRaw.err).toMatch(/link-type RAW \(Raw IP\)/);
    expect(lines(asRaw.out)).toEqual(lines(bpfkit(['read', '-r', file, 'udp port 53']).out));
    const o = resolve(OUT, 'as-raw.pcap');
    expect(bpfkit(['read', '-r', file, '-y', '101', '-w', o]).code).toBe(0);
    expect(readCaptureSync(readFileSync(o)).info.linkType).toBe(101);
  });

  it('shows a progress bar when standard error is a terminal (the launcher, and the bin on its start-up snapshot)', () => {
    const bin = resolve(REPO, 'dist/cli/bpfkit');
    for (const cmd of [`${process.execPath} ${EXE}`, bin]) {
      const r = spawnSync('script', ['-qefc', `${cmd} read -r ${LOOPBACK} --count`, '/dev/null'], {
        env: { ...env, BPFKIT_PROGRESS_DELAY_MS: '0' },
        encoding: 'utf8',
      });
      expect(r.stdout, cmd).toContain('reading [');
      expect(r.stdout, cmd).toContain('100%');
      expect(r.stdout, cmd).not.toContain('internal error');
    }
    // Not when output goes to a pipe or file.
    expect(bpfkit(['read', '-r', LOOPBACK, '--count'], undefined, { BPFKIT_PROGRESS_DELAY_MS: '0' }).err).not.toContain('reading [');
  });
});

describe('bpfkit read: bad input', () => {
  it('names missing files and bad arguments', () => {
    const r = bpfkit(['read', '-r', resolve(OUT, 'nope.pcap')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`bpfkit: ${resolve(OUT, 'nope.pcap')}: No such file or directory\n`);
    expect(bpfkit(['read', '-r', LOOPBACK, '-c', 'x']).err).toBe("bpfkit: -c needs a positive count, not 'x'\n");
    expect(bpfkit(['read', '-r', LOOPBACK, '-y', 'NOPE']).err).toBe("bpfkit: unknown link type 'NOPE'\n");
    const syntax = bpfkit(['read', '-r', LOOPBACK, 'tcp port']);
    expect(syntax.code).toBe(1);
    expect(syntax.err).toMatch(/^bpfkit: .*syntax error/);
    expect(syntax.err).not.toMatch(/ at .*\.js:\d+/); // no stack trace
  });

  it("refuses libpcap's invalid savefiles with libpcap's words", () => {
    const cases = readFileSync(resolve(LIBPCAP_CONFORMANCE, 'invalid-savefiles.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { savefile: string; error: string });
    for (const c of cases) {
      const r = bpfkit(['read', '-r', resolve(LIBPCAP_CONFORMANCE, c.savefile)]);
      expect(r.code, c.savefile).toBe(1);
      expect(r.err, c.savefile).toContain(c.error.replace(/^Failed opening: /, ''));
      expect(r.err).toMatch(/^bpfkit: .*\(at byte offset \d+\)\n$/);
      expect(r.out).toBe('');
    }
  });

  it('damage in the middle: the packets before it, then the error with its offset; a -w file stays valid', () => {
    const bytes = new Uint8Array(readFileSync(LOOPBACK));
    const v = new DataView(bytes.buffer);
    // Find the 40th record and give it an impossible capture length.
    let off = 24;
    for (let i = 0; i < 40; i++) off += 16 + v.getUint32(off + 8, true);
    v.setUint32(off + 8, 300000, true);
    const bad = resolve(OUT, 'damaged.pcap');
    writeFileSync(bad, bytes);
    const r = bpfkit(['read', '-r', bad]);
    expect(r.code).toBe(1);
    expect(lines(r.out)).toEqual(lines(bpfkit(['read', '-r', LOOPBACK]).out).slice(0, 40));
    expect(r.err).toContain(`bpfkit: ${bad}: invalid packet capture length 300000, bigger than snaplen of 262144 (at byte offset ${off})`);
    for (const name of ['damaged-out.pcap', 'damaged-out.pcapng']) {
      const o = resolve(OUT, name);
      const w = bpfkit(['read', '-r', bad, '-w', o]);
      expect(w.code).toBe(1);
      const got = libpcapPacketsOf([o])[0]!;
      expect(got.error).toBeUndefined();
      expect(got.packets.length).toBe(40);
    }
  });

  it('Ctrl-C while waiting on a pipe: stops, keeps what was written, exit status 130', async () => {
    const o = resolve(OUT, 'interrupted.pcap');
    const bytes = readFileSync(LOOPBACK);
    const child = spawn(process.execPath, [EXE, 'read', '-r', '-', '-w', o], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.stdin.write(bytes.subarray(0, 5000));
    // Once it has said what it reads, it is waiting for more input.
    await new Promise<void>((ok) => {
      const poll = setInterval(() => {
        if (err.includes('reading from file')) {
          clearInterval(poll);
          ok();
        }
      }, 20);
    });
    await new Promise((ok) => setTimeout(ok, 300));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((ok) => child.on('exit', (c) => ok(c)));
    expect(code).toBe(130);
    const whole = readCaptureSync(bytes.subarray(0, 5000)).packets.length;
    expect(libpcapPacketsOf([o])[0]!.packets.length).toBe(whole);
    expect(err).not.toMatch(/internal error|warning/);
  });

  it('a cut last record: a warning, the packets before it, and success', () => {
    const bytes = readFileSync(LOOPBACK);
    const cut = resolve(OUT, 'cut.pcap');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    const r = bpfkit(['read', '-r', cut]);
    expect(r.code).toBe(0);
    const full = lines(bpfkit(['read', '-r', LOOPBACK]).out);
    expect(lines(r.out)).toEqual(full.slice(0, full.length - 1));
    expect(r.err).toMatch(/bpfkit: warning: truncated dump file; tried to read \d+ captured bytes, only got \d+ \(at byte offset \d+\)/);
  });

  it('refuses to put several link types in a pcap file, keeping what was written', () => {
    const file = resolve(OUT, 'two-types.pcapng');
    writeFileSync(file, concat(shb(true), idb(true, 1, 0), idb(true, 101, 0), epb(true, 0, 1n, payload(1, 60)), epb(true, 1, 2n, payload(2, 40))));
    const o = resolve(OUT, 'two-types.pcap');
    const r = bpfkit(['read', '-r', file, '-w', o]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\nbpfkit: .*two-types\.pcap: a packet of link type 101 cannot go into a pcap file of link type 1/);
    expect(readCaptureSync(readFileSync(o)).packets.length).toBe(1);
    // pcapng keeps both.
    const ng = resolve(OUT, 'two-types-out.pcapng');
    expect(bpfkit(['read', '-r', file, '-w', ng]).code).toBe(0);
    expect(readCaptureSync(readFileSync(ng)).packets.map((p) => p.linkType)).toEqual([1, 101]);
    // And an expression is compiled for each link type.
    const each = bpfkit(['read', '-r', file, '--count', 'ip']);
    expect(each.err).toMatch(/^reading from file/);
    expect(each.code).toBe(0);
  });
});

describe('bpfkit start-up', () => {
  it('declares only the command a run names, each command from its own registration', () => {
    // registerAll(program, name) must give exactly that command, so a run of one command behaves as with all declared.
    for (const name of commandNames) {
      const one = new Command();
      registerAll(one, name);
      expect(one.commands.map((c) => c.name())).toEqual([name]);
    }
    const all = new Command();
    registerAll(all);
    expect(all.commands.map((c) => c.name())).toEqual([...commandNames]);
    // An unknown word or an option first: everything, so help and suggestions are complete.
    const other = new Command();
    registerAll(other, 'rea');
    expect(other.commands.length).toBe(commandNames.length);
  });

  it('the built command (bundled) lists every command, suggests, and reads without loading koffi', () => {
    const help = bpfkit(['--help']);
    expect(help.code).toBe(0);
    for (const name of commandNames) expect(help.out).toMatch(new RegExp(`^  ${name} `, 'm'));
    const typo = bpfkit(['rea']);
    expect(typo.code).not.toBe(0);
    expect(typo.err).toContain('Did you mean read?');
    expect(bpfkit(['read', '--help']).out).toContain('Usage: bpfkit read [options] [expression...]');
    const r = bpfkit(['read', '--count', '-r', LOOPBACK, 'tcp port 80'], undefined, { NODE_DEBUG: 'module' });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\d+ packets\n$/);
    expect(r.err).toMatch(/^MODULE \d+: /m); // the module log is on, so what it lacks was not loaded
    expect(r.err).not.toContain('koffi');
  });
});
