// Test oracle: open a BPF object with libbpf, optionally against a custom
// target BTF (btf_custom_path), load it, and print libbpf's debug log lines
// about CO-RE relocations to stdout. Loading may fail (a custom target can
// produce programs the kernel rejects); the relocation decisions are logged
// before that, which is all the tests read.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	char buf[4096];
	vsnprintf(buf, sizeof(buf), fmt, args);
	if (strstr(buf, "relo #") || strstr(buf, "CO-RE") || strstr(buf, "failed"))
		fputs(buf, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJ [TARGET_BTF]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_fn);
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	if (argc > 2)
		opts.btf_custom_path = argv[2];
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		fprintf(stderr, "open failed\n");
		return 1;
	}
	int err = bpf_object__load(obj);
	printf("load: %d\n", err);
	bpf_object__close(obj);
	return 0;
}
