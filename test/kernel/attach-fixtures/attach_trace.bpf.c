// SPDX-License-Identifier: GPL-2.0
// bpfkit attach tests: tracing programs. Each counts only events of the
// process the test spawned (target_tgid, set after it starts) and writes what
// it saw to a counter slot or the ring buffer.
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

enum slot {
	TP_GETPPID, RAW_GETPPID, BTF_GETPPID, UPROBE_CALLS, UPROBE_MULTI, USDT_GUARDED, PERF_SAMPLES, LEGACY_CALLS, ANY_CALLS, TIMER_TICKS,
	NSLOTS = 16,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Set by the test once its child has started. */
__u32 target_tgid = 0;

struct event {
	__u32 kind;
	__u32 nargs;
	__s64 v[4];
};

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void emit(__u32 kind, __u32 nargs, __s64 a, __s64 b, __s64 c, __s64 d)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->kind = kind;
	e->nargs = nargs;
	e->v[0] = a;
	e->v[1] = b;
	e->v[2] = c;
	e->v[3] = d;
	bpf_ringbuf_submit(e, 0);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	if (mine())
		bump(TP_GETPPID);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	/* args[1] is the system call number */
	if (mine() && ctx->args[1] == 110 /* __NR_getppid on x86-64 */)
		bump(RAW_GETPPID);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if (mine() && id == 110)
		bump(BTF_GETPPID);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_square, long x)
{
	if (!mine())
		return 0;
	bump(UPROBE_CALLS);
	emit(1, 1, x, bpf_get_attach_cookie(ctx), 0, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_square, long ret)
{
	if (mine())
		emit(2, 1, ret, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int uprobe_legacy(struct pt_regs *ctx)
{
	if (mine())
		bump(LEGACY_CALLS);
	return 0;
}

/* No pid check: the kernel's pid filter is what limits it. */
SEC("uprobe")
int uprobe_any(struct pt_regs *ctx)
{
	bump(ANY_CALLS);
	return 0;
}

SEC("uprobe.multi")
int uprobe_multi(struct pt_regs *ctx)
{
	if (!mine())
		return 0;
	bump(UPROBE_MULTI);
	emit(3, 1, PT_REGS_PARM1(ctx), bpf_get_attach_cookie(ctx), 0, 0);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_plain, long i, int neg, short three)
{
	if (mine())
		emit(4, bpf_usdt_arg_cnt(ctx), i, neg, three, bpf_usdt_cookie(ctx));
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_guarded, long i)
{
	if (mine()) {
		bump(USDT_GUARDED);
		emit(5, bpf_usdt_arg_cnt(ctx), i, 0, 0, 0);
	}
	return 0;
}

SEC("perf_event")
int perf_sample(void *ctx)
{
	if (mine())
		bump(PERF_SAMPLES);
	return 0;
}

SEC("perf_event")
int timer_tick(void *ctx)
{
	bump(TIMER_TICKS);
	return 0;
}
