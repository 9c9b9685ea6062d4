// SPDX-License-Identifier: GPL-2.0
// bpfkit attach tests: programs on kernel functions (kprobes, fentry/fexit,
// LSM). Each counts the getppid calls (LSM: the opens) of the process the test spawned. On a
// kernel without kprobes or BPF trampolines these do not load or attach, and
// the tests say so.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

enum slot { KPROBE_HITS, KRETPROBE_HITS, FENTRY_HITS, FEXIT_HITS, LSM_HITS, NSLOTS = 8 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

__u32 target_tgid = 0;

static __always_inline void bump(__u32 slot)
{
	__u64 *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("kprobe/__x64_sys_getppid")
int kprobe_getppid(struct pt_regs *ctx)
{
	bump(KPROBE_HITS);
	return 0;
}

SEC("kretprobe/__x64_sys_getppid")
int kretprobe_getppid(struct pt_regs *ctx)
{
	bump(KRETPROBE_HITS);
	return 0;
}

SEC("fentry/__do_sys_getppid")
int BPF_PROG(fentry_getppid)
{
	bump(FENTRY_HITS);
	return 0;
}

SEC("fexit/__do_sys_getppid")
int BPF_PROG(fexit_getppid, long ret)
{
	bump(FEXIT_HITS);
	return 0;
}

/* Each open(2) of the child (attach_target open N). */
SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, void *file)
{
	bump(LSM_HITS);
	return 0;
}
