/**
 * bpfkit/capture: pcap and pcapng files (reading, streaming, writing), the
 * link-type table, and tcpdump-style one-line packet summaries.
 * See README.md in this folder.
 */
export type { Packet } from './packet.js';
export type { CaptureInterface, TimestampResolution } from './interface.js';
export { MICROSECONDS, NANOSECONDS } from './interface.js';
export { PcapFormatError, CaptureOpenError, CaptureWriteError } from './errors.js';
export type { CaptureWarning } from './errors.js';
export type { CaptureInfo, CaptureFormat } from './decoder.js';
export { CaptureDecoder } from './decoder.js';
export type { CaptureSource, ReadOptions, SyncReadOptions, ParsedCapture } from './reader.js';
export { CaptureReader, readCaptureSync, readAllPackets, DEFAULT_CHUNK_SIZE } from './reader.js';
export { PacketBatch, BATCH_CAPACITY } from './batch.js';
export type { PcapHeader, PcapWriteOptions } from './pcap.js';
export { PCAP_MAGIC_US, PCAP_MAGIC_NS, encodePcapHeader } from './pcap.js';
export type { PcapngSection } from './pcapng.js';
export type { ByteSink, CaptureWriter, PcapngInterfaceOptions, PcapngWriteOptions } from './writer.js';
export {
  PcapWriter,
  PcapngWriter,
  MemorySink,
  FileSink,
  StreamSink,
  encodePcap,
  encodePcapng,
  formatForPath,
  openSink,
} from './writer.js';
export type { LinkTypeInfo } from './linktype.js';
export {
  LINK_TYPES,
  LINKTYPE,
  MAXIMUM_SNAPLEN,
  adjustSnaplen,
  dltToLinkType,
  linkTypeInfo,
  linkTypeInfoByDlt,
  linkTypeName,
  linkTypeToDlt,
  lookupLinkType,
  maxSnaplenForLinkType,
} from './linktype.js';
export type { SummaryOptions } from './summary/summarizer.js';
export { Summarizer, summarize } from './summary/summarizer.js';
