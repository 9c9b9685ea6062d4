/**
 * The format language of bpf_trace_printk and bpf_snprintf, as the kernel's
 * bpf_bprintf_prepare accepts it: `%[flags][width][l|ll](d|i|u|x|X)`, `%c`,
 * `%s`, `%p` (with `%pK`, `%px`, `%pi4`/`%pI4`, `%pi6`/`%pI6`, `%pks`/`%pus`),
 * `%%`. Flags are `0 + - space`. Without `l`, integer arguments are 32-bit.
 * Anything else is refused (-EINVAL).
 */
export interface PrintfSource {
  /** Argument i (0-based) as a u64. */
  arg(i: number): bigint;
  /** The NUL-terminated string at an address, or undefined when unreadable. */
  string(address: bigint): string | undefined;
  /** Bytes at an address, or undefined when unreadable. */
  bytes(address: bigint, length: number): Uint8Array | undefined;
}

export class PrintfError extends Error {}

function pad(s: string, width: number, left: boolean, zero: boolean): string {
  if (s.length >= width) return s;
  if (left) return s + ' '.repeat(width - s.length);
  if (zero) {
    const sign = /^[+\- ]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(width - s.length) + s.slice(sign.length);
  }
  return ' '.repeat(width - s.length) + s;
}

/** Format `fmt` with at most `maxArgs` arguments. Throws PrintfError for a format the kernel refuses. */
export function bpfPrintf(fmt: string, src: PrintfSource, maxArgs: number): string {
  let out = '';
  let argi = 0;
  const next = (): bigint => {
    if (argi >= maxArgs) throw new PrintfError(`more than ${maxArgs} arguments`);
    return src.arg(argi++);
  };
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i]!;
    if (ch !== '%') {
      const code = ch.charCodeAt(0);
      if (code >= 0x80 || (code < 0x20 && !/[\t\n\r\v\f]/.test(ch))) throw new PrintfError('non-printable character in format');
      out += ch;
      continue;
    }
    i++;
    if (fmt[i] === '%') {
      out += '%';
      continue;
    }
    let left = false;
    let zero = false;
    let plus = false;
    let space = false;
    while (i < fmt.length && '0+- '.includes(fmt[i]!)) {
      const f = fmt[i++]!;
      if (f === '-') left = true;
      else if (f === '0') zero = true;
      else if (f === '+') plus = true;
      else space = true;
    }
    let width = 0;
    while (i < fmt.length && fmt[i]! >= '0' && fmt[i]! <= '9') width = width * 10 + Number(fmt[i++]);
    const conv = fmt[i];
    if (conv === undefined) throw new PrintfError('format ends inside a conversion');
    if (conv === 'c') {
      out += pad(String.fromCharCode(Number(next() & 0xffn)), width, left, false);
      continue;
    }
    if (conv === 's') {
      out += pad(src.string(next()) ?? '(efault)', width, left, false);
      continue;
    }
    if (conv === 'p') {
      const v = next();
      const m2 = fmt.slice(i + 1, i + 3);
      const m1 = fmt[i + 1];
      if (m2 === 'i4' || m2 === 'I4' || m2 === 'i6' || m2 === 'I6') {
        i += 2;
        const v6 = m2[1] === '6';
        const b = src.bytes(v, v6 ? 16 : 4);
        if (!b) out += '(efault)';
        else if (!v6) out += Array.from(b).join('.');
        else {
          const groups: string[] = [];
          for (let g = 0; g < 16; g += 2) {
            const x = (b[g]! << 8) | b[g + 1]!;
            groups.push(m2[0] === 'I' ? x.toString(16) : x.toString(16).padStart(4, '0'));
          }
          out += groups.join(':');
        }
      } else if (m2 === 'ks' || m2 === 'us') {
        i += 2;
        out += pad(src.string(v) ?? '(efault)', width, left, false);
      } else {
        if (m1 === 'K' || m1 === 'x' || m1 === 'S' || m1 === 's' || m1 === 'B') i++;
        out += pad('0x' + v.toString(16), width, left, zero);
      }
      continue;
    }
    let long = false;
    if (fmt[i] === 'l') {
      long = true;
      i++;
      if (fmt[i] === 'l') i++;
    }
    const c = fmt[i];
    if (c !== 'd' && c !== 'i' && c !== 'u' && c !== 'x' && c !== 'X') throw new PrintfError(`unsupported conversion %${c ?? ''}`);
    let v = next();
    if (!long) v &= 0xffffffffn;
    let s: string;
    if (c === 'd' || c === 'i') {
      const n = long ? BigInt.asIntN(64, v) : BigInt.asIntN(32, v);
      s = n.toString();
      if (n >= 0n && plus) s = '+' + s;
      else if (n >= 0n && space) s = ' ' + s;
    } else if (c === 'u') {
      s = v.toString();
    } else {
      s = v.toString(16);
      if (c === 'X') s = s.toUpperCase();
    }
    out += pad(s, width, left, zero);
  }
  return out;
}
