/*
 * Anchor for bench/filter.bench.ts: pcap_compile() throughput, in slices on
 * request, so that the bench can alternate short slices of libpcap and of
 * bpfkit. Each request line on stdin is "opt<TAB>count<TAB>expr"; the reply
 * is "cpu_ns<TAB>wall_ns<TAB>instructions" for that many compiles (CPU time:
 * this process's user+sys, less inflated than wall time when the machine is
 * shared). Run as `filter_compile serve`.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
  if (argc != 2 || strcmp(argv[1], "serve") != 0) {
    fprintf(stderr, "usage: filter_compile serve\n");
    return 2;
  }
  pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t2) return 2;
    int opt = atoi(line);
    long count = atol(t1 + 1);
    const char *expr = t2 + 1;
    struct bpf_program prog;
    unsigned len = 0;
    double t0 = now_ms(), c0 = cpu_ms();
    for (long i = 0; i < count; i++) {
      if (pcap_compile(p, &prog, expr, opt, PCAP_NETMASK_UNKNOWN) != 0) {
        fprintf(stderr, "%s: %s\n", expr, pcap_geterr(p));
        return 1;
      }
      len = prog.bf_len;
      pcap_freecode(&prog);
    }
    double c = cpu_ms() - c0, t = now_ms() - t0;
    printf("%.0f\t%.0f\t%u\n", c * 1e6, t * 1e6, len);
    fflush(stdout);
  }
  pcap_close(p);
  return 0;
}
