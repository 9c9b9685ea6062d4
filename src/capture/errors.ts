/**
 * Errors and warnings of the capture layer.
 *
 * A damaged capture file raises a PcapFormatError that names the byte offset
 * where the damage is: the field that is wrong when it is a header field
 * (a version, the link-type field, a pcapng block length), otherwise the
 * start of the record or block that cannot be read. Its message keeps libpcap's wording where libpcap has one
 * ("unsupported pcap savefile version 1.4", "block total length in header 32
 * and trailer 808464432 don't match", ...), so messages can be compared with
 * what tcpdump prints.
 */
import { BpfkitError } from '../errors.js';

export class PcapFormatError extends BpfkitError {
  /** Byte offset in the file of the header or record that is damaged. */
  readonly offset: number;
  /** The file, when it has a name ('-' for standard input). */
  readonly path: string | undefined;
  /** The bare description, without the path and offset. */
  readonly reason: string;

  constructor(reason: string, offset: number, path?: string) {
    super('EPCAP_FORMAT', `${path !== undefined ? `${path}: ` : ''}${reason} (at byte offset ${offset})`);
    this.offset = offset;
    this.path = path;
    this.reason = reason;
  }
}

/** A capture file that cannot be opened at all (missing, a directory, no permission). */
export class CaptureOpenError extends BpfkitError {
  readonly path: string;
  constructor(path: string, why: string) {
    super('ECAPTURE_OPEN', `${path}: ${why}`);
    this.path = path;
  }
}

/** Raised when a packet or option cannot be written (e.g. a timestamp pcap cannot hold). */
export class CaptureWriteError extends BpfkitError {
  constructor(message: string) {
    super('ECAPTURE_WRITE', message);
  }
}

/** Something odd but survivable, e.g. a capture that ends in the middle of its last record. */
export interface CaptureWarning {
  /** 'truncated' (the file ends inside a record), 'clamped' (caplen cut to snaplen). */
  kind: 'truncated' | 'clamped';
  message: string;
  offset: number;
}
