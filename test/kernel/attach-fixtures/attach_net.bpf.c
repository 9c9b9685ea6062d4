// SPDX-License-Identifier: GPL-2.0
// bpfkit attach tests: network programs. Each counts the packets the test
// sends (ICMP echo over a veth pair, UDP from a cgroup) in its own slot.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Spelled out here: <linux/icmp.h> pulls in libc headers, and Debian's UAPI headers predate tcx. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest;
};
#define IPPROTO_ICMP 1
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define TCX_NEXT (-1)

enum slot {
	XDP_ECHO_REQUESTS, TCX_IN_ECHO_REQUESTS, TCX_OUT_ECHO_REPLIES, CGROUP_EGRESS_PACKETS, CGROUP_EGRESS_BYTES,
	SOCKET_SEEN, XDP_DROPPED, CGROUP_INGRESS_PACKETS,
	NSLOTS = 16,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, n);
}

/* The ICMP type of an IPv4 ICMP packet in [data, end), or -1. */
static __always_inline int icmp_type(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct icmphdr *icmp;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_ICMP)
		return -1;
	icmp = (void *)ip + ip->ihl * 4;
	if ((void *)(icmp + 1) > end)
		return -1;
	return icmp->type;
}

SEC("xdp")
int xdp_count_echo(struct xdp_md *ctx)
{
	if (icmp_type((void *)(long)ctx->data, (void *)(long)ctx->data_end) == ICMP_ECHO)
		add(XDP_ECHO_REQUESTS, 1);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop_echo(struct xdp_md *ctx)
{
	if (icmp_type((void *)(long)ctx->data, (void *)(long)ctx->data_end) == ICMP_ECHO) {
		add(XDP_DROPPED, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("tcx/ingress")
int tcx_in(struct __sk_buff *skb)
{
	if (icmp_type((void *)(long)skb->data, (void *)(long)skb->data_end) == ICMP_ECHO)
		add(TCX_IN_ECHO_REQUESTS, 1);
	return TCX_NEXT;
}

SEC("tcx/egress")
int tcx_out(struct __sk_buff *skb)
{
	if (icmp_type((void *)(long)skb->data, (void *)(long)skb->data_end) == ICMP_ECHOREPLY)
		add(TCX_OUT_ECHO_REPLIES, 1);
	return TCX_NEXT;
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	add(CGROUP_EGRESS_PACKETS, 1);
	add(CGROUP_EGRESS_BYTES, skb->len);
	return 1;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	add(CGROUP_INGRESS_PACKETS, 1);
	return 1;
}

/* On a UDP socket the filter sees the UDP header first: keep datagrams whose first byte is even. */
SEC("socket")
int sock_even(struct __sk_buff *skb)
{
	__u8 first;

	add(SOCKET_SEEN, 1);
	if (bpf_skb_load_bytes(skb, 8, &first, 1) < 0)
		return 0;
	return (first & 1) ? 0 : skb->len;
}
