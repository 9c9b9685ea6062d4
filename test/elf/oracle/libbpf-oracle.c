// bpfkit test oracle: opens a BPF object with the system's libbpf (and, unless
// --no-load, loads it into the running kernel), then prints as JSON what
// libbpf and the kernel made of it: programs (type, expected attach type,
// flags, the final instructions libbpf passed to the kernel), maps (libbpf's
// definition and the kernel's info) and the results of test runs.
//
// usage: libbpf-oracle OBJ --pin-root DIR [--no-load] [--run PROG HEXDATA]...
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('"');
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_WARN)
		return vfprintf(stderr, fmt, args);
	return 0;
}

static int unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s) / 2;
	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		sscanf(s + 2 * i, "%2hhx", &out[i]);
	return (int)n;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *pin_root = NULL;
	int load = 1;
	const char *runs[64][2];
	int nruns = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-load"))
			load = 0;
		else if (!strcmp(argv[i], "--pin-root") && i + 1 < argc)
			pin_root = argv[++i];
		else if (!strcmp(argv[i], "--run") && i + 2 < argc && nruns < 64) {
			runs[nruns][0] = argv[++i];
			runs[nruns][1] = argv[++i];
			nruns++;
		} else
			path = argv[i];
	}
	if (!path || !pin_root) {
		/* --pin-root is required: without it libbpf would pin maps under /sys/fs/bpf. */
		fprintf(stderr, "usage: %s OBJ --pin-root DIR [--no-load] [--run PROG HEX]...\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	if (!obj) {
		printf("{\"error\":\"open: %s\"}\n", strerror(errno));
		return 1;
	}
	int err = 0;
	if (load)
		err = bpf_object__load(obj);

	struct bpf_map *map;
	struct bpf_program *prog;
	printf("{\"loaded\":%s,\"error\":%d,\"maps\":[", load && !err ? "true" : "false", err);
	int first = 1;
	bpf_object__for_each_map(map, obj) {
		printf("%s{\"name\":\"%s\",\"internal\":%s,\"type\":%d,\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u,"
		       "\"map_flags\":%u,\"numa_node\":%u,\"map_extra\":%llu,\"fd\":%d,\"btf_key_type_id\":%u,\"btf_value_type_id\":%u",
		       first ? "" : ",", bpf_map__name(map), bpf_map__is_internal(map) ? "true" : "false", bpf_map__type(map),
		       bpf_map__key_size(map), bpf_map__value_size(map), bpf_map__max_entries(map), bpf_map__map_flags(map),
		       bpf_map__numa_node(map), (unsigned long long)bpf_map__map_extra(map), bpf_map__fd(map),
		       bpf_map__btf_key_type_id(map), bpf_map__btf_value_type_id(map));
		size_t sz = 0;
		const void *init = bpf_map__initial_value(map, &sz);
		if (init) {
			printf(",\"initial\":");
			hex(init, sz);
		}
		if (bpf_map__fd(map) >= 0) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
				printf(",\"kernel\":{\"name\":\"%s\",\"type\":%u,\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u,\"map_flags\":%u,\"id\":%u}",
				       info.name, info.type, info.key_size, info.value_size, info.max_entries, info.map_flags, info.id);
		}
		printf("}");
		first = 0;
	}
	printf("],\"progs\":[");
	first = 1;
	bpf_object__for_each_program(prog, obj) {
		printf("%s{\"name\":\"%s\",\"section\":\"%s\",\"type\":%d,\"expected_attach_type\":%d,\"flags\":%u,\"fd\":%d,\"insns\":",
		       first ? "" : ",", bpf_program__name(prog), bpf_program__section_name(prog), bpf_program__type(prog),
		       bpf_program__expected_attach_type(prog), bpf_program__flags(prog), bpf_program__fd(prog));
		hex(bpf_program__insns(prog), bpf_program__insn_cnt(prog) * sizeof(struct bpf_insn));
		if (bpf_program__fd(prog) >= 0) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);
			if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
				printf(",\"kernel\":{\"type\":%u,\"id\":%u,\"xlated_prog_len\":%u,\"nr_map_ids\":%u,\"nr_func_info\":%u,\"nr_line_info\":%u}",
				       info.type, info.id, info.xlated_prog_len, info.nr_map_ids, info.nr_func_info, info.nr_line_info);
		}
		printf("}");
		first = 0;
	}
	printf("],\"btf\":");
	{
		/* The object's BTF as libbpf prepared it (externs sanitized; before any kernel-feature sanitizing). */
		struct btf *btf = bpf_object__btf(obj);
		__u32 sz = 0;
		const void *raw = btf ? btf__raw_data(btf, &sz) : NULL;
		hex(raw, raw ? sz : 0);
	}
	printf(",\"runs\":[");
	for (int i = 0; i < nruns; i++) {
		static unsigned char in[65536], out[65536 + 512];
		int n = unhex(runs[i][1], in, sizeof(in));
		prog = bpf_object__find_program_by_name(obj, runs[i][0]);
		int rc = -ENOENT;
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_size_in = n, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);
		if (prog && bpf_program__fd(prog) >= 0)
			rc = bpf_prog_test_run_opts(bpf_program__fd(prog), &t);
		printf("%s{\"prog\":\"%s\",\"rc\":%d,\"retval\":%u,\"data_out\":", i ? "," : "", runs[i][0], rc, t.retval);
		hex(out, rc == 0 ? t.data_size_out : 0);
		printf("}");
	}
	printf("]}\n");
	bpf_object__close(obj);
	return 0;
}
