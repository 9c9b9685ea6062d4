// bpfkit benchmark anchor: ring buffer records consumed per second by
// libbpf's ring_buffer__poll (Debian libbpf-dev). The map and the producer
// program are bpfkit's, pinned by bench/kernel.bench.ts in a private bpffs:
// this harness fills the ring by test-running the producer (not timed), then
// times ring_buffer__poll(rb, 0) draining it, for ROUNDS rounds.
// Usage: kernel_ringbuf MAP_PIN PROG_PIN ROUNDS RUNS_PER_ROUND PER_RUN
//   → "records <total> ns <consume time>"
// Or:    kernel_ringbuf trickle PROG_PIN COUNT INTERVAL_US
//   test-runs the producer for one record every INTERVAL_US, COUNT times (a
//   producer in another process, for measuring a consumer's latency).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this process (user + system): on a shared machine, time spent
 * waiting for a CPU is not the harness's cost. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static unsigned long long seen, sum;

static int on_record(void *ctx, void *data, size_t size)
{
	sum += *(unsigned long long *)data;
	seen++;
	return 0;
}

static int trickle(int argc, char **argv)
{
	int prog = bpf_obj_get(argv[2]);
	long count = atol(argv[3]), interval = atol(argv[4]);
	unsigned long long args[1] = { 1 };
	if (prog < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof args);
		if (bpf_prog_test_run_opts(prog, &o)) {
			perror("test run");
			return 1;
		}
		struct timespec t = { 0, interval * 1000 };
		nanosleep(&t, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "trickle") == 0)
		return trickle(argc, argv);
	if (argc < 6) {
		fprintf(stderr, "usage: %s MAP_PIN PROG_PIN ROUNDS RUNS PER_RUN\n", argv[0]);
		return 2;
	}
	int map = bpf_obj_get(argv[1]), prog = bpf_obj_get(argv[2]);
	int rounds = atoi(argv[3]), runs = atoi(argv[4]);
	unsigned long long args[1] = { strtoull(argv[5], NULL, 0) };
	if (map < 0 || prog < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(map, on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	double consume = 0;
	unsigned long long expected = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < runs; i++) {
			LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = args, .ctx_size_in = sizeof args);
			if (bpf_prog_test_run_opts(prog, &o) || o.retval) {
				fprintf(stderr, "producer failed (retval %u)\n", o.retval);
				return 1;
			}
			expected += args[0];
		}
		double t0 = now_ns();
		while (seen < expected)
			if (ring_buffer__poll(rb, 0) < 0) {
				perror("ring_buffer__poll");
				return 1;
			}
		consume += now_ns() - t0;
	}
	printf("records %llu ns %.0f\n", seen, consume);
	if (sum == 42)
		printf("# %llu\n", sum);
	ring_buffer__free(rb);
	return 0;
}
