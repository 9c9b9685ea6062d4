// SPDX-License-Identifier: MIT
// A process for bpfkit's attach tests to probe: built with gcc -O0 -fno-builtin
// at test time. `attach_target MODE N` waits for a line on standard input
// (so the test can attach first and knows the pid), then does MODE N times:
//   getppid  the getppid system call
//   call     calls bpfkit_square(i) for i = 0..N-1 (uprobe/uretprobe)
//   usdt     fires USDT probe bpfkit_test:plain(i, -i, i*3) (no semaphore)
//   guarded  fires bpfkit_test:guarded(i) only while its semaphore is set
//   spin     burns CPU for N milliseconds (perf event sampling)
//   open     opens and closes /dev/null (LSM file_open)
// and prints one number: the sum of the calls' results, how many guarded
// probes fired, or (spin) the CPU time it used in microseconds.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/sdt.h>

long guarded_probe(long i);

__attribute__((noinline)) long bpfkit_square(long x)
{
	return x * x - 7;
}

__attribute__((noinline)) long bpfkit_cube(long x)
{
	return x * x * x;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	char line[32];
	long n, i, sum = 0;

	if (argc != 3)
		return 2;
	n = atol(argv[2]);
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	if (!strcmp(argv[1], "getppid")) {
		for (i = 0; i < n; i++)
			sum += syscall(SYS_getppid) > 0;
	} else if (!strcmp(argv[1], "call")) {
		for (i = 0; i < n; i++)
			sum += bpfkit_square(i) + bpfkit_cube(i);
	} else if (!strcmp(argv[1], "usdt")) {
		for (i = 0; i < n; i++) {
			int neg = (int)-i;
			short three = (short)(i * 3);
			DTRACE_PROBE3(bpfkit_test, plain, i, neg, three);
			sum += i;
		}
	} else if (!strcmp(argv[1], "guarded")) {
		for (i = 0; i < n; i++)
			sum += guarded_probe(i);
	} else if (!strcmp(argv[1], "open")) {
		for (i = 0; i < n; i++) {
			FILE *f = fopen("/dev/null", "r");
			sum += f != NULL;
			if (f)
				fclose(f);
		}
	} else if (!strcmp(argv[1], "spin")) {
		double end = now_ms() + n;
		volatile unsigned long x = 0;
		struct timespec cpu;
		while (now_ms() < end)
			x++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
		sum = cpu.tv_sec * 1000000L + cpu.tv_nsec / 1000;
	} else {
		return 4;
	}
	printf("%ld\n", sum);
	return 0;
}
