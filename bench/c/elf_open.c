// bpfkit benchmark anchor: how long libbpf (Debian libbpf-dev) takes to open a
// BPF object from memory (ELF, BTF, BTF.ext, maps, programs, relocation
// records), the work bench/elf.bench.ts times for bpfkit's loadCollectionSpec.
// Usage: elf_open FILE N  → "<ns per open>".
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	FILE *f = fopen(argv[1], "rb");
	if (!f)
		return 1;
	static char buf[1 << 22];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	long iters = atol(argv[2]);
	libbpf_set_print(quiet);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < iters; i++) {
		struct bpf_object *obj = bpf_object__open_mem(buf, n, NULL);
		if (!obj)
			return 1;
		bpf_object__close(obj);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.0f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iters);
	return 0;
}
