// SPDX-License-Identifier: GPL-2.0
// Processes exec'ing, as a stream of ring-buffer records: at
// syscalls:sys_enter_execve the file name and the first arguments are copied
// (per thread, in a hash map); at syscalls:sys_exit_execve the result is
// added and the record sent to user space. bpfkit's examples/execsnoop.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ARGS 8
#define ARGLEN 64
#define NAMELEN 128

/* The tracepoints' records (events/syscalls/sys_enter_execve/format, .../sys_exit_execve/format). */
struct enter_execve {
	__u64 common;		/* struct trace_entry */
	__s32 nr;
	__u32 pad;
	const char *filename;
	const char *const *argv;
	const char *const *envp;
};

struct exit_execve {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

struct event {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 nargs;		/* arguments copied (at most ARGS) */
	__s64 ret;
	char comm[16];		/* the command after exec (before it, when exec failed) */
	char filename[NAMELEN];
	char args[ARGS][ARGLEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} pending SEC(".maps");

/* An empty event to start from (too big for the 512-byte BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct enter_execve *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, zero = 0;
	struct event *e = bpf_map_lookup_elem(&scratch, &zero);
	const char *arg;

	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = tid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->nargs = 0;
	e->ret = 0;
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), ctx->filename);
	for (int i = 0; i < ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &ctx->argv[i]) < 0 || !arg)
			break;
		if (bpf_probe_read_user_str(e->args[i], ARGLEN, arg) < 0)
			break;
		e->nargs = i + 1;
	}
	bpf_map_update_elem(&pending, &tid, e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(struct exit_execve *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&pending, &tid);

	if (!e)
		return 0;
	e->ret = ctx->ret;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}
