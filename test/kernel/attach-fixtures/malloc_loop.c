// SPDX-License-Identifier: MIT
// For the malloc-count example's test: exactly N calls to malloc (built with
// gcc -O0 -fno-builtin so none is folded away), nothing else that allocates.
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;

	for (long i = 0; i < n; i++) {
		volatile char *p = malloc(16 + i % 64);
		if (!p)
			return 1;
		p[0] = (char)i;
		free((void *)p);
	}
	return 0;
}
