/*
 * bpfkit's test harness over Debian's libpcap (built at test time by
 * test/support/libpcap.ts; see that file for the TypeScript API).
 *
 * Every subcommand reads its requests from stdin, one per line, and answers
 * on stdout, one line per answer, so that a test needs one process for
 * thousands of questions.
 *
 *   image                 in: "n code jt jf k"      out: bpf_image(insn, n)
 *   validate              in: program (bytecode)    out: "1" or "0" (bpf_validate)
 *   kernel-accepts        in: program (bytecode)    out: "1" or "0 <errno name>"
 *                         (SO_ATTACH_FILTER on a UDP socket: the kernel's check)
 *   compile LINKTYPE SNAPLEN OPTIMIZE NETMASK
 *                         in: expression            out: "ok <bytecode>" or "error <pcap_geterr>"
 *   compile-offline FILE OPTIMIZE NETMASK
 *                         in: expression            out: as compile, for the pcap_t of
 *                         pcap_open_offline(FILE) (its link type and snaplen, offline)
 *   packets FILE...       out: per file "F index", "L linktype snaplen", then per packet
 *                         "P sec frac caplen len hex" (frac in ns for ns files, else us),
 *                         and a last line "E <message>" if reading stopped on an error
 *   filter OPTIMIZE NETMASK FILE...
 *                         in: "P <bytecode>" (a program) or "E <expression>" (compiled
 *                         against each file, as `tcpdump -r FILE EXPR` does)
 *                         out: per file "F index npackets linktype" (or "O index <open error>"),
 *                         "W index <read error>" when reading stopped early, then per
 *                         request "V req v1 v2 ..." or "X req <compile error>"
 *   kernel-filter         (root) in a private network namespace, attach each program
 *                         to an AF_PACKET socket on lo and send each frame on lo.
 *                         in: "F n", then n lines "ethertype hexframe", then programs
 *                         out: per program "V" then per frame " out/in/pkttype": the
 *                         length received on the outgoing and the incoming copy (0 =
 *                         dropped by the filter) and the incoming copy's pkt_type;
 *                         or a first line "SKIP reason" when it cannot run
 *   time FILE REPEAT      in: program (bytecode)    out: "T packets seconds accepted"
 *                         (pcap_offline_filter over the file's packets held in memory)
 *
 * A program in bytecode form is the -ddd text on one line with commas:
 * "N,code jt jf k,code jt jf k,...".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>

static char *read_line(FILE *in) {
	static char *buf = NULL;
	static size_t cap = 0;
	ssize_t n = getline(&buf, &cap, in);
	if (n < 0) return NULL;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
	return buf;
}

/* Parse "N,c jt jf k,..." into prog; returns 0 on success. */
static int parse_bytecode(const char *s, struct bpf_program *prog) {
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (end == s || *end != ',') return -1;
	struct bpf_insn *insns = calloc(n ? n : 1, sizeof(*insns));
	if (!insns) return -1;
	const char *p = end + 1;
	for (unsigned long i = 0; i < n; i++) {
		unsigned long v[4];
		for (int j = 0; j < 4; j++) {
			v[j] = strtoul(p, &end, 10);
			if (end == p) { free(insns); return -1; }
			p = end;
		}
		insns[i].code = (u_short)v[0];
		insns[i].jt = (u_char)v[1];
		insns[i].jf = (u_char)v[2];
		insns[i].k = (bpf_u_int32)v[3];
		while (*p == ' ' || *p == ',') p++;
	}
	prog->bf_len = (u_int)n;
	prog->bf_insns = insns;
	return 0;
}

static void print_bytecode(const struct bpf_program *prog) {
	printf("%u", prog->bf_len);
	for (u_int i = 0; i < prog->bf_len; i++) {
		const struct bpf_insn *p = &prog->bf_insns[i];
		printf(",%u %u %u %u", p->code, p->jt, p->jf, p->k);
	}
}

static int parse_linktype(const char *s) {
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end) return (int)v;
	int dlt = pcap_datalink_name_to_val(s);
	if (dlt < 0) {
		fprintf(stderr, "unknown link type %s\n", s);
		exit(2);
	}
	return dlt;
}

static bpf_u_int32 parse_netmask(const char *s) {
	if (!strcmp(s, "-")) return PCAP_NETMASK_UNKNOWN;
	unsigned a, b, c, d;
	if (sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d) != 4) {
		fprintf(stderr, "bad netmask %s\n", s);
		exit(2);
	}
	/* pcap_compile takes the netmask in network byte order. */
	uint32_t host = (a << 24) | (b << 16) | (c << 8) | d;
	return htonl(host);
}

static int cmd_image(void) {
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		int n;
		unsigned code, jt, jf;
		unsigned long k;
		if (sscanf(line, "%d %u %u %u %lu", &n, &code, &jt, &jf, &k) != 5) {
			printf("?\n");
			continue;
		}
		struct bpf_insn insn = { (u_short)code, (u_char)jt, (u_char)jf, (bpf_u_int32)k };
		printf("%s\n", bpf_image(&insn, n));
	}
	return 0;
}

static int cmd_validate(void) {
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (parse_bytecode(line, &prog)) {
			printf("?\n");
			continue;
		}
		printf("%d\n", bpf_validate(prog.bf_insns, (int)prog.bf_len) ? 1 : 0);
		free(prog.bf_insns);
	}
	return 0;
}

static int cmd_kernel_accepts(void) {
	char *line;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (parse_bytecode(line, &prog)) {
			printf("?\n");
			continue;
		}
		struct sock_fprog fprog = { (unsigned short)prog.bf_len, (struct sock_filter *)prog.bf_insns };
		if (prog.bf_len > 0xffff) {
			printf("0 EINVAL\n");
		} else if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof(fprog)) == 0) {
			printf("1\n");
			setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0);
		} else {
			printf("0 %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
		}
		free(prog.bf_insns);
	}
	close(fd);
	return 0;
}

static int cmd_compile(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "compile LINKTYPE SNAPLEN OPTIMIZE NETMASK\n");
		return 2;
	}
	int dlt = parse_linktype(argv[0]);
	int snaplen = atoi(argv[1]);
	int optimize = atoi(argv[2]);
	bpf_u_int32 netmask = parse_netmask(argv[3]);
	pcap_t *p = pcap_open_dead(dlt, snaplen);
	if (!p) {
		fprintf(stderr, "pcap_open_dead failed\n");
		return 1;
	}
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, line, optimize, netmask) < 0) {
			printf("error %s\n", pcap_geterr(p));
			continue;
		}
		printf("ok ");
		print_bytecode(&prog);
		printf("\n");
		pcap_freecode(&prog);
	}
	pcap_close(p);
	return 0;
}

static int cmd_compile_offline(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "compile-offline FILE OPTIMIZE NETMASK\n");
		return 2;
	}
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(argv[0], errbuf);
	if (!p) {
		printf("open-error %s\n", errbuf);
		return 0;
	}
	int optimize = atoi(argv[1]);
	bpf_u_int32 netmask = parse_netmask(argv[2]);
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, line, optimize, netmask) < 0) {
			printf("error %s\n", pcap_geterr(p));
			continue;
		}
		printf("ok ");
		print_bytecode(&prog);
		printf("\n");
		pcap_freecode(&prog);
	}
	pcap_close(p);
	return 0;
}

struct pkt {
	struct pcap_pkthdr h;
	u_char *data;
};

struct capture {
	pcap_t *p;
	struct pkt *pkts;
	size_t n, cap;
	char err[PCAP_ERRBUF_SIZE + 64];
	int nano;
};

/* Open a savefile and hold all its packets; returns 0, or -1 with c->err set on open failure. */
static int load_capture(const char *path, struct capture *c) {
	char errbuf[PCAP_ERRBUF_SIZE];
	memset(c, 0, sizeof(*c));
	c->nano = 1;
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!c->p) {
		snprintf(c->err, sizeof(c->err), "%s", errbuf);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;
	while ((r = pcap_next_ex(c->p, &h, &data)) == 1) {
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 256;
			c->pkts = realloc(c->pkts, c->cap * sizeof(*c->pkts));
		}
		c->pkts[c->n].h = *h;
		c->pkts[c->n].data = malloc(h->caplen ? h->caplen : 1);
		memcpy(c->pkts[c->n].data, data, h->caplen);
		c->n++;
	}
	if (r == PCAP_ERROR) snprintf(c->err, sizeof(c->err), "%s", pcap_geterr(c->p));
	return 0;
}

static void free_capture(struct capture *c) {
	for (size_t i = 0; i < c->n; i++) free(c->pkts[i].data);
	free(c->pkts);
	if (c->p) pcap_close(c->p);
}

static int cmd_packets(int argc, char **argv) {
	if (argc < 1) return 2;
	for (int f = 0; f < argc; f++) {
		struct capture c;
		printf("F %d\n", f);
		if (load_capture(argv[f], &c)) {
			printf("E %s\n", c.err);
			continue;
		}
		printf("L %d %d\n", pcap_datalink(c.p), pcap_snapshot(c.p));
		for (size_t i = 0; i < c.n; i++) {
			const struct pkt *k = &c.pkts[i];
			printf("P %ld %ld %u %u ", (long)k->h.ts.tv_sec, (long)k->h.ts.tv_usec, k->h.caplen, k->h.len);
			for (u_int j = 0; j < k->h.caplen; j++) printf("%02x", k->data[j]);
			printf("\n");
		}
		if (c.err[0]) printf("E %s\n", c.err);
		free_capture(&c);
	}
	return 0;
}

static int cmd_filter(int argc, char **argv) {
	if (argc < 2) return 2;
	int optimize = atoi(argv[0]);
	bpf_u_int32 netmask = parse_netmask(argv[1]);
	/* Read all requests first. */
	char **reqs = NULL;
	size_t nreq = 0, capreq = 0;
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		if (nreq == capreq) {
			capreq = capreq ? capreq * 2 : 64;
			reqs = realloc(reqs, capreq * sizeof(*reqs));
		}
		reqs[nreq++] = strdup(line);
	}
	for (int f = 2; f < argc; f++) {
		struct capture c;
		if (load_capture(argv[f], &c)) {
			printf("O %d %s\n", f - 2, c.err);
			continue;
		}
		printf("F %d %zu %d\n", f - 2, c.n, pcap_datalink(c.p));
		if (c.err[0]) printf("W %d %s\n", f - 2, c.err);
		for (size_t r = 0; r < nreq; r++) {
			struct bpf_program prog;
			int from_expr = reqs[r][0] == 'E';
			if (from_expr) {
				if (pcap_compile(c.p, &prog, reqs[r] + 2, optimize, netmask) < 0) {
					printf("X %zu %s\n", r, pcap_geterr(c.p));
					continue;
				}
			} else if (parse_bytecode(reqs[r] + 2, &prog)) {
				printf("X %zu unparsable program\n", r);
				continue;
			}
			printf("V %zu", r);
			for (size_t i = 0; i < c.n; i++) printf(" %d", pcap_offline_filter(&prog, &c.pkts[i].h, c.pkts[i].data));
			printf("\n");
			if (from_expr) pcap_freecode(&prog);
			else free(prog.bf_insns);
		}
		free_capture(&c);
	}
	for (size_t r = 0; r < nreq; r++) free(reqs[r]);
	free(reqs);
	return 0;
}

static int cmd_time(int argc, char **argv) {
	if (argc < 2) return 2;
	struct capture c;
	if (load_capture(argv[0], &c)) {
		printf("E %s\n", c.err);
		return 0;
	}
	int repeat = atoi(argv[1]);
	char *line;
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (parse_bytecode(line, &prog)) {
			printf("?\n");
			continue;
		}
		struct timespec t0, t1;
		size_t accepted = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int r = 0; r < repeat; r++)
			for (size_t i = 0; i < c.n; i++)
				if (pcap_offline_filter(&prog, &c.pkts[i].h, c.pkts[i].data)) accepted++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("T %zu %.9f %zu\n", c.n * (size_t)repeat, secs, accepted);
		free(prog.bf_insns);
	}
	free_capture(&c);
	return 0;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Receive one packet (waiting up to ms); returns its length (MSG_TRUNC: after the filter's trim) or -1. */
static int recv_one(int fd, int ms, int *pkttype) {
	struct pollfd pf = { fd, POLLIN, 0 };
	if (poll(&pf, 1, ms) <= 0) return -1;
	char buf[4096];
	struct sockaddr_ll from;
	socklen_t fl = sizeof(from);
	int n = (int)recvfrom(fd, buf, sizeof(buf), MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (n < 0) return -1;
	*pkttype = from.sll_pkttype;
	return n;
}

static int cmd_kernel_filter(void) {
	/* One CPU, so that SKF_AD_CPU is known (0) on both copies. */
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP cannot create a network namespace: %s\n", strerror(errno));
		return 0;
	}
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr))) {
		printf("SKIP cannot bring lo up: %s\n", strerror(errno));
		return 0;
	}
	close(s);
	/* No IPv6 stack in this namespace: it would answer our test frames (ICMPv6 errors), and
	 * those answers would reach the sockets too. (IPv4 drops them silently: the addresses are
	 * not local and forwarding is off.) */
	const char *sysctls[] = { "/proc/sys/net/ipv6/conf/all/disable_ipv6", "/proc/sys/net/ipv6/conf/lo/disable_ipv6" };
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(sysctls[i], "w");
		if (f) {
			fputs("1\n", f);
			fclose(f);
		}
	}
	int lo = (int)if_nametoindex("lo");
	struct sockaddr_ll ll;
	memset(&ll, 0, sizeof(ll));
	ll.sll_family = AF_PACKET;
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = lo;
	int rx = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	int all = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	int tx = socket(AF_PACKET, SOCK_RAW, 0);
	if (rx < 0 || all < 0 || tx < 0 || bind(rx, (struct sockaddr *)&ll, sizeof(ll)) || bind(all, (struct sockaddr *)&ll, sizeof(ll))) {
		printf("SKIP packet sockets: %s\n", strerror(errno));
		return 0;
	}
	char *line = read_line(stdin);
	int nframes = line && line[0] == 'F' ? atoi(line + 2) : 0;
	unsigned char **frames = calloc(nframes ? nframes : 1, sizeof(*frames));
	int *lens = calloc(nframes ? nframes : 1, sizeof(int));
	int *protos = calloc(nframes ? nframes : 1, sizeof(int));
	for (int f = 0; f < nframes; f++) {
		line = read_line(stdin);
		if (!line) return 2;
		char *hex = strchr(line, ' ');
		protos[f] = atoi(line);
		hex = hex ? hex + 1 : line;
		size_t h = strlen(hex);
		frames[f] = malloc(h / 2 + 1);
		lens[f] = (int)(h / 2);
		for (size_t j = 0; j < h / 2; j++) frames[f][j] = (unsigned char)(hexval(hex[2 * j]) * 16 + hexval(hex[2 * j + 1]));
	}
	while ((line = read_line(stdin)) != NULL) {
		struct bpf_program prog;
		if (parse_bytecode(line, &prog)) {
			printf("?\n");
			continue;
		}
		struct sock_fprog fp = { (unsigned short)prog.bf_len, (struct sock_filter *)prog.bf_insns };
		if (setsockopt(rx, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp))) {
			printf("E %s\n", strerror(errno));
			free(prog.bf_insns);
			continue;
		}
		printf("V");
		for (int f = 0; f < nframes; f++) {
			int pt;
			while (recv_one(rx, 0, &pt) >= 0) {}
			while (recv_one(all, 0, &pt) >= 0) {}
			struct sockaddr_ll to;
			memset(&to, 0, sizeof(to));
			to.sll_family = AF_PACKET;
			to.sll_ifindex = lo;
			to.sll_halen = 6;
			to.sll_protocol = htons((unsigned short)protos[f]);
			if (sendto(tx, frames[f], lens[f], 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
				printf(" send-error");
				continue;
			}
			/* The unfiltered socket sees both copies; rx (registered first) has seen them by then. */
			int in_pt = -1;
			for (int c = 0; c < 2; c++) {
				if (recv_one(all, 1000, &pt) >= 0 && pt != PACKET_OUTGOING) in_pt = pt;
			}
			/* The first copy of each direction is ours; drain anything else. */
			int out_len = -1, in_len = -1, n;
			while ((n = recv_one(rx, 0, &pt)) >= 0) {
				if (pt == PACKET_OUTGOING) {
					if (out_len < 0) out_len = n;
				} else if (in_len < 0) {
					in_len = n;
				}
			}
			if (out_len < 0) out_len = 0;
			if (in_len < 0) in_len = 0;
			printf(" %d/%d/%d", out_len, in_len, in_pt);
		}
		printf("\n");
		fflush(stdout);
		free(prog.bf_insns);
	}
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc < 2) {
		fprintf(stderr, "usage: %s image|validate|kernel-accepts|compile|packets|filter|time ...\n", argv[0]);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "image")) return cmd_image();
	if (!strcmp(cmd, "validate")) return cmd_validate();
	if (!strcmp(cmd, "kernel-accepts")) return cmd_kernel_accepts();
	if (!strcmp(cmd, "compile")) return cmd_compile(argc - 2, argv + 2);
	if (!strcmp(cmd, "compile-offline")) return cmd_compile_offline(argc - 2, argv + 2);
	if (!strcmp(cmd, "packets")) return cmd_packets(argc - 2, argv + 2);
	if (!strcmp(cmd, "filter")) return cmd_filter(argc - 2, argv + 2);
	if (!strcmp(cmd, "time")) return cmd_time(argc - 2, argv + 2);
	if (!strcmp(cmd, "kernel-filter")) return cmd_kernel_filter();
	fprintf(stderr, "unknown subcommand %s\n", cmd);
	return 2;
}
