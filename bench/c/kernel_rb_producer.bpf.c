// SPDX-License-Identifier: GPL-2.0
// bpfkit benchmark producer: test-run with ctx args[0] = N, it writes N
// 16-byte records {sequence, ktime} to the ring buffer (at most 1000 per run).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} rb SEC(".maps");

struct rec {
	__u64 seq;
	__u64 ts;
};

__u64 next_seq = 0;

SEC("raw_tp/sys_enter")
int produce(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 n = ctx->args[0];
	int failed = 0;
	for (int i = 0; i < 1000; i++) {
		if (i >= n)
			break;
		struct rec r = { .seq = next_seq++, .ts = bpf_ktime_get_ns() };
		if (bpf_ringbuf_output(&rb, &r, sizeof(r), 0))
			failed++;
	}
	return failed;
}

char LICENSE[] SEC("license") = "GPL";
