// SPDX-License-Identifier: GPL-2.0
// Block I/O latency as a log2 histogram: block:block_rq_issue records when a
// request went to the device, block:block_rq_complete looks it up and counts
// the elapsed microseconds in slot log2(us). bpfkit's examples/biolatency.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define SLOTS 32

/* The tracepoints' records (events/block/block_rq_issue/format, .../block_rq_complete/format). */
struct rq_issue {
	__u64 common;		/* struct trace_entry */
	__u32 dev;
	__u32 pad;
	__u64 sector;
	__u32 nr_sector;
	__u32 bytes;
};

struct rq_complete {
	__u64 common;
	__u32 dev;
	__u32 pad;
	__u64 sector;
	__u32 nr_sector;
	int error;
};

struct req {
	__u32 dev;
	__u32 pad;
	__u64 sector;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct req);
	__type(value, __u64);
} start SEC(".maps");

/* Per device: SLOTS counters, slot i = latencies in [2^i, 2^(i+1)) us (slot 0 also holds 0 us). */
struct hist {
	__u64 slots[SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

/* Only this device, as the kernel's dev_t (major << 20 | minor); 0: every device. */
__u32 target_dev = 0;

static __always_inline __u32 log2l(__u64 v)
{
	__u32 r = 0;

	for (int i = 0; i < 63 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

SEC("tracepoint/block/block_rq_issue")
int rq_issue(struct rq_issue *ctx)
{
	struct req k = { .dev = ctx->dev, .sector = ctx->sector };
	__u64 ts = bpf_ktime_get_ns();

	if (target_dev && ctx->dev != target_dev)
		return 0;
	bpf_map_update_elem(&start, &k, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int rq_complete(struct rq_complete *ctx)
{
	struct req k = { .dev = ctx->dev, .sector = ctx->sector };
	struct hist zero = {}, *h;
	__u64 *tsp, us;
	__u32 slot, dev = ctx->dev;

	tsp = bpf_map_lookup_elem(&start, &k);
	if (!tsp)
		return 0;
	us = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &k);
	slot = log2l(us);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	h = bpf_map_lookup_elem(&hists, &dev);
	if (!h) {
		bpf_map_update_elem(&hists, &dev, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &dev);
		if (!h)
			return 0;
	}
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}
