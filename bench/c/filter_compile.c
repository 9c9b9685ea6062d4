/*
 * Anchor for bench/filter.bench.ts: pcap_compile() throughput. Reads
 * expressions (one per line) on stdin, then compiles each one repeatedly for
 * at least MIN_MS milliseconds of wall time, with and without the optimiser,
 * and prints "expr<TAB>opt<TAB>compiles_per_wall_second<TAB>instructions<TAB>
 * compiles_per_cpu_second" per expression (CPU time: this process's user+sys,
 * less inflated than wall time when the machine is shared).
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Compiles between two clock reads (the bench's bpfkit loop does the same). */
#define BATCH 16

static double clock_ms(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

/*
 * `filter_compile serve`: slices on request, so that the bench can alternate
 * short slices of libpcap and of bpfkit. Each request line is
 * "opt<TAB>count<TAB>expr"; the reply is "cpu_ns<TAB>wall_ns<TAB>instructions"
 * for that many compiles.
 */
static int serve(pcap_t *p) {
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
  return 0;
}

int main(int argc, char **argv) {
  pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
  if (argc > 1 && strcmp(argv[1], "serve") == 0) return serve(p);
  double min_ms = argc > 1 ? atof(argv[1]) : 300;
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    for (int opt = 1; opt >= 0; opt--) {
      struct bpf_program prog;
      long n = 0;
      unsigned len = 0;
      double t0 = now_ms(), c0 = cpu_ms(), t;
      do {
        for (int i = 0; i < BATCH; i++) {
          if (pcap_compile(p, &prog, line, opt, PCAP_NETMASK_UNKNOWN) != 0) {
            fprintf(stderr, "%s: %s\n", line, pcap_geterr(p));
            return 1;
          }
          len = prog.bf_len;
          pcap_freecode(&prog);
        }
        n += BATCH;
        t = now_ms() - t0;
      } while (t < min_ms);
      double c = cpu_ms() - c0;
      printf("%s\t%d\t%.0f\t%u\t%.0f\n", line, opt, n / (t / 1e3), len, n / (c / 1e3));
    }
  }
  pcap_close(p);
  return 0;
}
