// SPDX-License-Identifier: GPL-2.0
// Count the packets arriving on an interface by protocol, in XDP (before
// the kernel builds an skb), and let them all pass. bpfkit's examples/xdp-counter.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* Slots: packets and bytes per kind. */
enum { IPV4_ICMP, IPV4_TCP, IPV4_UDP, IPV4_OTHER, IPV6, ARP, OTHER, KINDS };

struct counts {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KINDS);
	__type(key, __u32);
	__type(value, struct counts);
} stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct counts *c;
	__u32 kind = OTHER;

	if ((void *)(eth + 1) <= end) {
		switch (bpf_ntohs(eth->h_proto)) {
		case ETH_P_IP:
			kind = IPV4_OTHER;
			if ((void *)(ip + 1) <= end) {
				if (ip->protocol == 1)
					kind = IPV4_ICMP;
				else if (ip->protocol == 6)
					kind = IPV4_TCP;
				else if (ip->protocol == 17)
					kind = IPV4_UDP;
			}
			break;
		case ETH_P_IPV6:
			kind = IPV6;
			break;
		case ETH_P_ARP:
			kind = ARP;
			break;
		}
	}
	c = bpf_map_lookup_elem(&stats, &kind);
	if (c) {
		c->packets++;
		c->bytes += end - data;
	}
	return XDP_PASS;
}
