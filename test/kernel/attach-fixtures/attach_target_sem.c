// SPDX-License-Identifier: MIT
// The half of attach_target with a USDT semaphore: every probe in this file
// has one (sys/sdt.h with _SDT_HAS_SEMAPHORES), so bpfkit_test:guarded only
// fires while a tracer holds bpfkit_test_guarded_semaphore above zero.
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

__extension__ unsigned short bpfkit_test_guarded_semaphore __attribute__((unused)) __attribute__((section(".probes")));

long guarded_probe(long i)
{
	if (bpfkit_test_guarded_semaphore) {
		STAP_PROBE1(bpfkit_test, guarded, i);
		return 1;
	}
	return 0;
}
