/*
 * The anchor of bench/cbpf.bench.ts: libpcap's own interpreter,
 * pcap_offline_filter(), over the packets of a savefile held in memory.
 *
 *   offline_filter FILE
 *
 * Requests on stdin, one per line, answered one line each (so that the
 * bench can interleave its rounds with the JavaScript engines' rounds):
 *
 *   P <bytecode>          define the next program ("N,code jt jf k,...", as
 *                         `tcpdump -ddd` prints it with newlines turned into
 *                         commas); answers "P <index>"
 *   R <index> <seconds>   one round: whole passes over the packets until
 *                         <seconds> of CPU time have passed; answers
 *                         "R <packets filtered> <seconds> <accepted in one pass>"
 *   T <seconds>           the memory floor: like R, but each packet is only
 *                         touched (one byte of its Ethernet type read), no
 *                         filter; "accepted" counts packets whose byte 12 is 8
 *
 *   offline_filter FILE [MAXPACKETS] keeps only the first MAXPACKETS packets
 *   (a small, cache-resident set).
 *
 * Built at bench time into bench/out/ with gcc -O2 against Debian's libpcap-dev.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pkt {
	struct pcap_pkthdr h;
	u_char *data;
};

/* CPU time of this process: a busy machine (other jobs) does not count against us. */
static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int parse_bytecode(const char *s, struct bpf_program *prog) {
	char *end;
	unsigned long n = strtoul(s, &end, 10);
	if (end == s || *end != ',') return -1;
	struct bpf_insn *insns = calloc(n ? n : 1, sizeof(*insns));
	const char *p = end + 1;
	for (unsigned long i = 0; i < n; i++) {
		unsigned long v[4];
		for (int j = 0; j < 4; j++) {
			v[j] = strtoul(p, &end, 10);
			if (end == p) {
				free(insns);
				return -1;
			}
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

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE < requests\n", argv[0]);
		return 2;
	}
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(argv[1], errbuf);
	if (!p) {
		fprintf(stderr, "%s\n", errbuf);
		return 1;
	}
	struct pkt *pkts = NULL;
	size_t n = 0, cap = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t max = argc > 2 ? strtoul(argv[2], NULL, 10) : (size_t)-1;
	while (n < max && pcap_next_ex(p, &h, &data) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			pkts = realloc(pkts, cap * sizeof(*pkts));
		}
		pkts[n].h = *h;
		pkts[n].data = malloc(h->caplen ? h->caplen : 1);
		memcpy(pkts[n].data, data, h->caplen);
		n++;
	}
	struct bpf_program progs[64];
	int nprogs = 0;
	char *line = NULL;
	size_t linecap = 0;
	while (getline(&line, &linecap, stdin) > 0) {
		if (line[0] == 'P' && nprogs < 64) {
			if (parse_bytecode(line + 2, &progs[nprogs])) {
				printf("? unparsable program\n");
			} else {
				printf("P %d\n", nprogs++);
			}
		} else if (line[0] == 'R') {
			int idx = 0;
			double min_seconds = 0;
			if (sscanf(line + 2, "%d %lf", &idx, &min_seconds) != 2 || idx < 0 || idx >= nprogs) {
				printf("? bad request\n");
			} else {
				const struct bpf_program *prog = &progs[idx];
				size_t filtered = 0, accepted = 0;
				double t0 = now(), t;
				do {
					size_t acc = 0;
					for (size_t i = 0; i < n; i++)
						if (pcap_offline_filter(prog, &pkts[i].h, pkts[i].data)) acc++;
					accepted = acc;
					filtered += n;
					t = now() - t0;
				} while (t < min_seconds);
				printf("R %zu %.9f %zu\n", filtered, t, accepted);
			}
		} else if (line[0] == 'T') {
			double min_seconds = 0;
			if (sscanf(line + 2, "%lf", &min_seconds) != 1) {
				printf("? bad request\n");
			} else {
				size_t filtered = 0, accepted = 0;
				double t0 = now(), t;
				do {
					size_t acc = 0;
					for (size_t i = 0; i < n; i++) {
						const volatile u_char *d = pkts[i].data;
						if (pkts[i].h.caplen > 12 && d[12] == 8) acc++;
					}
					accepted = acc;
					filtered += n;
					t = now() - t0;
				} while (t < min_seconds);
				printf("R %zu %.9f %zu\n", filtered, t, accepted);
			}
		} else {
			printf("? unknown request\n");
		}
		fflush(stdout);
	}
	return 0;
}
