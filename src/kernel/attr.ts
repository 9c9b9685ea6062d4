/**
 * `union bpf_attr`, one layout per bpf(2) command, and the info structs the
 * kernel fills (bpf_prog_info, bpf_map_info, bpf_btf_info, bpf_link_info).
 * Field names and order follow include/uapi/linux/bpf.h of Linux 6.18 (the
 * running kernel's BTF for fields newer than Debian's headers). The tests
 * check every offset and size against the C compiler and compare encoded
 * bytes with bytes a C program writes through the real union.
 *
 * The size handed to bpf(2) is the command's `end`: the kernel requires the
 * bytes it does not know to be zero, so older kernels accept these as long as
 * the newer fields are left at zero.
 */
import { layout } from './layout.js';

const U = 'union bpf_attr';

/** BPF_MAP_CREATE */
export const MapCreateAttr = layout(U, '', [
  ['map_type', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['inner_map_fd', 'u32'],
  ['numa_node', 'u32'],
  ['map_name', 'char[16]'],
  ['map_ifindex', 'u32'],
  ['btf_fd', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['map_extra', 'u64'],
  ['value_type_btf_obj_fd', 's32'],
  ['map_token_fd', 's32'],
  ['excl_prog_hash', 'u64'],
  ['excl_prog_hash_size', 'u32'],
]);

/** BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY, LOOKUP_AND_DELETE_ELEM, FREEZE */
export const MapElemAttr = layout(U, '', [
  ['map_fd', 'u32'],
  ['key', 'u64'],
  ['value', 'u64'],
  ['next_key', 'u64', { at: 16 }],
  ['flags', 'u64'],
]);

/** BPF_MAP_*_BATCH */
export const MapBatchAttr = layout(U, 'batch.', [
  ['in_batch', 'u64'],
  ['out_batch', 'u64'],
  ['keys', 'u64'],
  ['values', 'u64'],
  ['count', 'u32'],
  ['map_fd', 'u32'],
  ['elem_flags', 'u64'],
  ['flags', 'u64'],
]);

/** BPF_PROG_LOAD */
export const ProgLoadAttr = layout(U, '', [
  ['prog_type', 'u32'],
  ['insn_cnt', 'u32'],
  ['insns', 'u64'],
  ['license', 'u64'],
  ['log_level', 'u32'],
  ['log_size', 'u32'],
  ['log_buf', 'u64'],
  ['kern_version', 'u32'],
  ['prog_flags', 'u32'],
  ['prog_name', 'char[16]'],
  ['prog_ifindex', 'u32'],
  ['expected_attach_type', 'u32'],
  ['prog_btf_fd', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'u64'],
  ['func_info_cnt', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['line_info', 'u64'],
  ['line_info_cnt', 'u32'],
  ['attach_btf_id', 'u32'],
  ['attach_prog_fd', 'u32'],
  ['attach_btf_obj_fd', 'u32', { at: 112 }],
  ['core_relo_cnt', 'u32'],
  ['fd_array', 'u64'],
  ['core_relos', 'u64'],
  ['core_relo_rec_size', 'u32'],
  ['log_true_size', 'u32'],
  ['prog_token_fd', 's32'],
  ['fd_array_cnt', 'u32'],
  ['signature', 'u64'],
  ['signature_size', 'u32'],
  ['keyring_id', 's32'],
]);

/** BPF_OBJ_PIN, BPF_OBJ_GET */
export const ObjAttr = layout(U, '', [
  ['pathname', 'u64'],
  ['bpf_fd', 'u32'],
  ['file_flags', 'u32'],
  ['path_fd', 's32'],
]);

/** BPF_PROG_ATTACH, BPF_PROG_DETACH */
export const ProgAttachAttr = layout(U, '', [
  ['target_fd', 'u32'],
  ['target_ifindex', 'u32', { at: 0 }],
  ['attach_bpf_fd', 'u32'],
  ['attach_type', 'u32'],
  ['attach_flags', 'u32'],
  ['replace_bpf_fd', 'u32'],
  ['relative_fd', 'u32'],
  ['relative_id', 'u32', { at: 20 }],
  ['expected_revision', 'u64'],
]);

/** BPF_PROG_TEST_RUN */
export const TestRunAttr = layout(U, 'test.', [
  ['prog_fd', 'u32'],
  ['retval', 'u32'],
  ['data_size_in', 'u32'],
  ['data_size_out', 'u32'],
  ['data_in', 'u64'],
  ['data_out', 'u64'],
  ['repeat', 'u32'],
  ['duration', 'u32'],
  ['ctx_size_in', 'u32'],
  ['ctx_size_out', 'u32'],
  ['ctx_in', 'u64'],
  ['ctx_out', 'u64'],
  ['flags', 'u32'],
  ['cpu', 'u32'],
  ['batch_size', 'u32'],
]);

/** BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID */
export const GetIdAttr = layout(U, '', [
  ['start_id', 'u32'],
  ['prog_id', 'u32', { at: 0 }],
  ['map_id', 'u32', { at: 0 }],
  ['btf_id', 'u32', { at: 0 }],
  ['link_id', 'u32', { at: 0 }],
  ['next_id', 'u32'],
  ['open_flags', 'u32'],
  ['fd_by_id_token_fd', 's32'],
]);

/** BPF_OBJ_GET_INFO_BY_FD */
export const InfoAttr = layout(U, 'info.', [
  ['bpf_fd', 'u32'],
  ['info_len', 'u32'],
  ['info', 'u64'],
]);

/** BPF_PROG_QUERY */
export const QueryAttr = layout(U, 'query.', [
  ['target_fd', 'u32'],
  ['target_ifindex', 'u32', { at: 0 }],
  ['attach_type', 'u32'],
  ['query_flags', 'u32'],
  ['attach_flags', 'u32'],
  ['prog_ids', 'u64'],
  ['prog_cnt', 'u32'],
  ['count', 'u32', { at: 24 }],
  ['prog_attach_flags', 'u64'],
  ['link_ids', 'u64'],
  ['link_attach_flags', 'u64'],
  ['revision', 'u64'],
]);

/** BPF_RAW_TRACEPOINT_OPEN */
export const RawTracepointAttr = layout(U, 'raw_tracepoint.', [
  ['name', 'u64'],
  ['prog_fd', 'u32'],
  ['cookie', 'u64'],
]);

/** BPF_BTF_LOAD */
export const BtfLoadAttr = layout(U, '', [
  ['btf', 'u64'],
  ['btf_log_buf', 'u64'],
  ['btf_size', 'u32'],
  ['btf_log_size', 'u32'],
  ['btf_log_level', 'u32'],
  ['btf_log_true_size', 'u32'],
  ['btf_flags', 'u32'],
  ['btf_token_fd', 's32'],
]);

/** BPF_TASK_FD_QUERY */
export const TaskFdQueryAttr = layout(U, 'task_fd_query.', [
  ['pid', 'u32'],
  ['fd', 'u32'],
  ['flags', 'u32'],
  ['buf_len', 'u32'],
  ['buf', 'u64'],
  ['prog_id', 'u32'],
  ['fd_type', 'u32'],
  ['probe_offset', 'u64'],
  ['probe_addr', 'u64'],
]);

const LINK_HEAD = [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32', { at: 0 }],
  ['target_fd', 'u32'],
  ['target_ifindex', 'u32', { at: 4 }],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
] as const;

/** BPF_LINK_CREATE, the variants of its trailing union (the union is 8-aligned at offset 16). */
export const LinkCreateAttr = layout(U, 'link_create.', [...LINK_HEAD, ['target_btf_id', 'u32']], 8);
export const LinkCreateIterAttr = layout(U, 'link_create.', [...LINK_HEAD, ['iter_info', 'u64'], ['iter_info_len', 'u32']]);
export const LinkCreatePerfEventAttr = layout(U, 'link_create.', [
  ...LINK_HEAD,
  ['bpf_cookie', 'u64', { c: 'perf_event.bpf_cookie' }],
]);
export const LinkCreateKprobeMultiAttr = layout(
  U,
  'link_create.',
  [
    ...LINK_HEAD,
    ['kprobe_multi_flags', 'u32', { c: 'kprobe_multi.flags' }],
    ['cnt', 'u32', { c: 'kprobe_multi.cnt' }],
    ['syms', 'u64', { c: 'kprobe_multi.syms' }],
    ['addrs', 'u64', { c: 'kprobe_multi.addrs' }],
    ['cookies', 'u64', { c: 'kprobe_multi.cookies' }],
  ],
  8,
);
export const LinkCreateTracingAttr = layout(U, 'link_create.', [
  ...LINK_HEAD,
  ['target_btf_id', 'u32', { c: 'tracing.target_btf_id' }],
  ['cookie', 'u64', { c: 'tracing.cookie' }],
]);
export const LinkCreateNetfilterAttr = layout(
  U,
  'link_create.',
  [
    ...LINK_HEAD,
    ['pf', 'u32', { c: 'netfilter.pf' }],
    ['hooknum', 'u32', { c: 'netfilter.hooknum' }],
    ['priority', 's32', { c: 'netfilter.priority' }],
    ['netfilter_flags', 'u32', { c: 'netfilter.flags' }],
  ],
  8,
);
/** tcx, netkit and cgroup share this shape. */
export const LinkCreateRelativeAttr = layout(U, 'link_create.', [
  ...LINK_HEAD,
  ['relative_fd', 'u32', { c: 'tcx.relative_fd' }],
  ['relative_id', 'u32', { at: 16, c: 'tcx.relative_id' }],
  ['expected_revision', 'u64', { c: 'tcx.expected_revision' }],
]);
export const LinkCreateUprobeMultiAttr = layout(U, 'link_create.', [
  ...LINK_HEAD,
  ['path', 'u64', { c: 'uprobe_multi.path' }],
  ['offsets', 'u64', { c: 'uprobe_multi.offsets' }],
  ['ref_ctr_offsets', 'u64', { c: 'uprobe_multi.ref_ctr_offsets' }],
  ['cookies', 'u64', { c: 'uprobe_multi.cookies' }],
  ['cnt', 'u32', { c: 'uprobe_multi.cnt' }],
  ['uprobe_multi_flags', 'u32', { c: 'uprobe_multi.flags' }],
  ['pid', 'u32', { c: 'uprobe_multi.pid' }],
]);

/** BPF_LINK_UPDATE */
export const LinkUpdateAttr = layout(U, 'link_update.', [
  ['link_fd', 'u32'],
  ['new_prog_fd', 'u32'],
  ['new_map_fd', 'u32', { at: 4 }],
  ['flags', 'u32'],
  ['old_prog_fd', 'u32'],
  ['old_map_fd', 'u32', { at: 12 }],
]);

/** BPF_LINK_DETACH */
export const LinkDetachAttr = layout(U, 'link_detach.', [['link_fd', 'u32']]);
/** BPF_ENABLE_STATS */
export const EnableStatsAttr = layout(U, 'enable_stats.', [['type', 'u32']]);
/** BPF_ITER_CREATE */
export const IterCreateAttr = layout(U, 'iter_create.', [
  ['link_fd', 'u32'],
  ['flags', 'u32'],
]);
/** BPF_PROG_BIND_MAP */
export const ProgBindMapAttr = layout(U, 'prog_bind_map.', [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32'],
  ['flags', 'u32'],
]);
/** BPF_TOKEN_CREATE */
export const TokenCreateAttr = layout(U, 'token_create.', [
  ['flags', 'u32'],
  ['bpffs_fd', 'u32'],
]);
/** BPF_PROG_STREAM_READ_BY_FD */
export const ProgStreamReadAttr = layout(U, 'prog_stream_read.', [
  ['stream_buf', 'u64'],
  ['stream_buf_len', 'u32'],
  ['stream_id', 'u32'],
  ['prog_fd', 'u32'],
]);

/** Every bpf_attr layout, by the name tests use. */
export const BPF_ATTR_LAYOUTS = {
  MapCreateAttr,
  MapElemAttr,
  MapBatchAttr,
  ProgLoadAttr,
  ObjAttr,
  ProgAttachAttr,
  TestRunAttr,
  GetIdAttr,
  InfoAttr,
  QueryAttr,
  RawTracepointAttr,
  BtfLoadAttr,
  TaskFdQueryAttr,
  LinkCreateAttr,
  LinkCreateIterAttr,
  LinkCreatePerfEventAttr,
  LinkCreateKprobeMultiAttr,
  LinkCreateTracingAttr,
  LinkCreateNetfilterAttr,
  LinkCreateRelativeAttr,
  LinkCreateUprobeMultiAttr,
  LinkUpdateAttr,
  LinkDetachAttr,
  EnableStatsAttr,
  IterCreateAttr,
  ProgBindMapAttr,
  TokenCreateAttr,
  ProgStreamReadAttr,
};

// ---------------------------------------------------------------------------
// Info structs (BPF_OBJ_GET_INFO_BY_FD fills them)

export const ProgInfo = layout('struct bpf_prog_info', '', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['tag', 'u8[8]'],
  ['jited_prog_len', 'u32'],
  ['xlated_prog_len', 'u32'],
  ['jited_prog_insns', 'u64'],
  ['xlated_prog_insns', 'u64'],
  ['load_time', 'u64'],
  ['created_by_uid', 'u32'],
  ['nr_map_ids', 'u32'],
  ['map_ids', 'u64'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  /** Bit 0: gpl_compatible (a bitfield, which offsetof cannot name). */
  ['gpl_compatible_bits', 'u32', { c: null }],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['nr_jited_ksyms', 'u32'],
  ['nr_jited_func_lens', 'u32'],
  ['jited_ksyms', 'u64'],
  ['jited_func_lens', 'u64'],
  ['btf_id', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'u64'],
  ['nr_func_info', 'u32'],
  ['nr_line_info', 'u32'],
  ['line_info', 'u64'],
  ['jited_line_info', 'u64'],
  ['nr_jited_line_info', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['jited_line_info_rec_size', 'u32'],
  ['nr_prog_tags', 'u32'],
  ['prog_tags', 'u64'],
  ['run_time_ns', 'u64'],
  ['run_cnt', 'u64'],
  ['recursion_misses', 'u64'],
  ['verified_insns', 'u32'],
  ['attach_btf_obj_id', 'u32'],
  ['attach_btf_id', 'u32'],
]);

export const MapInfo = layout('struct bpf_map_info', '', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['btf_id', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_id', 'u32'],
  ['map_extra', 'u64'],
  ['hash', 'u64'],
  ['hash_size', 'u32'],
]);

export const BtfInfo = layout('struct bpf_btf_info', '', [
  ['btf', 'u64'],
  ['btf_size', 'u32'],
  ['id', 'u32'],
  ['name', 'u64'],
  ['name_len', 'u32'],
  ['kernel_btf', 'u32'],
]);

/** bpf_link_info's common head; the per-type union starts at 16 (the last field only fixes the size). */
export const LinkInfo = layout(
  'struct bpf_link_info',
  '',
  [
    ['type', 'u32'],
    ['id', 'u32'],
    ['prog_id', 'u32'],
    ['target_u32_0', 'u32', { at: 16, c: 'xdp.ifindex' }],
    ['target_u32_1', 'u32', { at: 20, c: 'tcx.attach_type' }],
    ['target_u64_0', 'u64', { at: 16, c: 'cgroup.cgroup_id' }],
    ['target_u64_1', 'u64', { at: 24, c: 'uprobe_multi.offsets' }],
    ['target_u64_5', 'u64', { at: 56, c: 'perf_event.kprobe.cookie' }],
  ],
  8,
);

/** Sizes of the info structs this engine knows, for the kernel's info_len. */
export const INFO_LAYOUTS = { ProgInfo, MapInfo, BtfInfo, LinkInfo };
