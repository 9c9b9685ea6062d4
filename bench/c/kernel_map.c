// bpfkit benchmark anchor: map lookup/update calls per second through
// libbpf (Debian libbpf-dev), the same loop bench/kernel.bench.ts runs
// through bpfkit. Usage: kernel_map N  → one line per case: "<case> <ns/call>".
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* CPU time of this process (user + system): on a shared machine, time spent
 * waiting for a CPU is not the harness's cost. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void run(const char *name, enum bpf_map_type type, long n)
{
	int fd = bpf_map_create(type, "bench", 4, 8, 1024, NULL);
	if (fd < 0) {
		perror("bpf_map_create");
		exit(1);
	}
	unsigned long long v = 0;
	for (unsigned k = 0; k < 1024; k++)
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			perror("populate");
			exit(1);
		}
	unsigned long long sum = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		unsigned k = i & 1023;
		if (bpf_map_lookup_elem(fd, &k, &v)) {
			perror("lookup");
			exit(1);
		}
		sum += v;
	}
	double t1 = now_ns();
	for (long i = 0; i < n; i++) {
		unsigned k = i & 1023;
		v = i;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			perror("update");
			exit(1);
		}
	}
	double t2 = now_ns();
	printf("%s-lookup %.1f\n%s-update %.1f\n", name, (t1 - t0) / n, name, (t2 - t1) / n);
	if (sum == 42)
		printf("# %llu\n", sum);
	close(fd);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	run("array", BPF_MAP_TYPE_ARRAY, n);
	run("hash", BPF_MAP_TYPE_HASH, n);
	return 0;
}
