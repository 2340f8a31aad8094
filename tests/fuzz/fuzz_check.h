/* fuzz_check.h: CHECK(cond, fmt, ...) for the fuzz targets' own
 * properties: when cond is false, print the file, line and message and
 * abort(), which libFuzzer reports as a crash with the input. */
#ifndef FORKD_FUZZ_CHECK_H
#define FORKD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

#endif
