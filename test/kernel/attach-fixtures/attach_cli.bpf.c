// SPDX-License-Identifier: GPL-2.0
// bpfkit attach CLI tests: programs whose SEC() names say where they go (or
// not), counting per process (tgid) so that a test reads its own child's entry.
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

static __always_inline void bump(__u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(&calls, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&calls, &key, &one, BPF_NOEXIST);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int cli_getppid(void *ctx)
{
	bump(bpf_get_current_pid_tgid() >> 32);
	return 0;
}

SEC("uprobe")
int cli_uprobe(struct pt_regs *ctx)
{
	bump(bpf_get_current_pid_tgid() >> 32);
	return 0;
}

/* Key: the process; every firing whose first argument reads as >= 0 (attach_target's i = 0..N-1). */
SEC("usdt")
int BPF_USDT(cli_usdt, long i)
{
	if (i >= 0)
		bump(bpf_get_current_pid_tgid() >> 32);
	return 0;
}

/* Key 0: ICMP echo requests seen; other packets are not counted. */
SEC("xdp")
int cli_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	unsigned char *p = data;

	/* Ethernet (14) + IPv4 without options (20) + ICMP type. */
	if (p + 35 > (unsigned char *)end)
		return XDP_PASS;
	if (p[12] == 0x08 && p[13] == 0x00 && p[23] == 1 && p[34] == 8)
		bump(0);
	return XDP_PASS;
}

/* Key 1: ICMP echo requests at tcx ingress (the skb starts at the Ethernet header); on to the next program. */
SEC("tcx/ingress")
int cli_tcx(struct __sk_buff *skb)
{
	unsigned char *p = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (p + 35 <= end && p[12] == 0x08 && p[13] == 0x00 && p[23] == 1 && p[34] == 8)
		bump(1);
	return -1; /* TCX_NEXT */
}

/* Key 2: packets sent by the processes of the cgroup; let them go. */
SEC("cgroup_skb/egress")
int cli_cgroup(struct __sk_buff *skb)
{
	bump(2);
	return 1;
}
