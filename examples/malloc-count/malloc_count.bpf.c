// SPDX-License-Identifier: GPL-2.0
// Count malloc() calls per process: a uprobe on libc's malloc bumps a
// counter keyed by (pid, command name). bpfkit's examples/malloc-count.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct key {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct key);
	__type(value, __u64);
} mallocs SEC(".maps");

SEC("uprobe")
int count_malloc(struct pt_regs *ctx)
{
	struct key k = {};
	__u64 one = 1, *n;

	k.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(k.comm, sizeof(k.comm));
	n = bpf_map_lookup_elem(&mallocs, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&mallocs, &k, &one, BPF_NOEXIST);
	return 0;
}
