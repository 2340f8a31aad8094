/* pi.c: the Leibniz pi demo module.
 *
 * pi:leibniz START COUNT prints the sum of the terms k = START ..
 * START+COUNT-1 of 4 * (-1)^k / (2k + 1); the partial sums of several
 * children add up to an approximation of pi. pi:hello says hello.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "forkd_module.h"

#define PI_USAGE_LEIBNIZ	"usage: pi:leibniz START COUNT\n"

/* Parse a decimal unsigned 64-bit number; 0 or -EINVAL / -ERANGE. */
static int
pi_parse_u64(const char *s, uint64_t *ret)
{
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Print the partial Leibniz sum over the terms START .. START+COUNT-1. */
static int
pi_leibniz(int argc, char **argv)
{
	uint64_t	start, count, k;
	double		sum = 0.0;

	if (argc != 3 || pi_parse_u64(argv[1], &start) != 0 ||
	    pi_parse_u64(argv[2], &count) != 0) {
		fputs(PI_USAGE_LEIBNIZ, stderr);
		return 2;
	}
	if (count > UINT64_MAX - start) {
		fprintf(stderr, "pi:leibniz: START + COUNT overflows\n"
		    PI_USAGE_LEIBNIZ);
		return 2;
	}

	/* Smallest terms first: less rounding error in the sum. */
	for (k = start + count; k > start; k--) {
		double	term = 4.0 / (2.0 * (double)(k - 1) + 1.0);

		sum += ((k - 1) & 1) ? -term : term;
	}

	printf("%.17g\n", sum);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Say hello with the child's pid. */
static int
pi_hello(int argc, char **argv)
{
	if (argc > 1) {
		fputs("usage: pi:hello\n", stderr);
		return 2;
	}
	printf("hello from forkd child %ld\n", (long)getpid());
	return fflush(stdout) == 0 ? 0 : 1;
}

static const struct forkd_module_entry pi_entries[] = {
	{ "leibniz", pi_leibniz, "START COUNT: partial sum of the Leibniz series" },
	{ "hello", pi_hello, "print hello with the child's pid" },
	{ NULL, NULL, NULL }
};

__attribute__((visibility("default")))
const struct forkd_module forkd_module_info = {
	.abi_version = FORKD_MODULE_ABI_VERSION,
	.name = "pi",
	.description = "Leibniz pi demo",
	.init = NULL,
	.entries = pi_entries,
};
