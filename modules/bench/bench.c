/* bench.c: the benchmark module.
 *
 * init "size_mb=N[,state=plain|huge|shared]" maps N MiB in the daemon and
 * writes every page, so each child starts with that much state shared
 * copy-on-write. state=huge (the default) and state=shared use the flat-
 * fork-cost allocators of forkd_module.h; plain is ordinary 4 KiB pages,
 * the baseline whose fork cost grows with size. The entries are tiny on purpose: they measure spawn cost,
 * copy-on-write cost and stdio. Entries that only tests need (a child's
 * fds, env, cwd, files) are in modules/testing, which is never installed:
 * an installed module offers no file reader.
 */
#include <sys/mman.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forkd_module.h"

#define BENCH_SIZE_MB_MAX	65536UL		/* 64 GiB */
#define BENCH_SLEEP_MAX		(86400.0 * 365)	/* a year */

static unsigned char	*bench_state;
static size_t		 bench_state_size;
static unsigned long	 bench_size_mb;
static size_t		 bench_page_size;

/* Parse a decimal unsigned long; 0 or -EINVAL / -ERANGE. */
static int
bench_parse_ulong(const char *s, size_t len, unsigned long *ret)
{
	char		 buf[32];
	char		*end;
	unsigned long	 v;

	if (len == 0 || len >= sizeof buf || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

/* How the state is allocated (init option state=...). */
enum bench_kind {
	BENCH_PLAIN,	/* private 4 KiB pages: fork cost grows with size */
	BENCH_HUGE,	/* forkd_state_alloc_private(): transparent huge pages */
	BENCH_SHARED,	/* forkd_state_alloc_shared() + seal: read-only */
	BENCH_KIND_MAX
};
static const char *const bench_kind_names[BENCH_KIND_MAX] = {
	"plain", "huge", "shared"
};
static enum bench_kind	 bench_kind = BENCH_HUGE;

/* Allocate size_mb MiB of the chosen kind and write every page of it. */
static int
bench_alloc(unsigned long size_mb, enum bench_kind kind)
{
	unsigned char	*p;
	size_t		 size, off;
	int		 fd = -1;

	bench_page_size = (size_t)sysconf(_SC_PAGESIZE);
	bench_kind = kind;
	if (size_mb == 0)
		return 0;
	if (size_mb > SIZE_MAX >> 20) {
		fprintf(stderr, "bench: %lu MiB does not fit in the address "
		    "space\n", size_mb);
		return -ERANGE;
	}
	size = (size_t)size_mb << 20;
	switch (kind) {
	case BENCH_PLAIN:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			p = NULL;
		break;
	case BENCH_HUGE:
		p = forkd_state_alloc_private(size);
		break;
	default:
		p = forkd_state_alloc_shared(size, &fd);
		break;
	}
	if (p == NULL) {
		fprintf(stderr, "bench: cannot map %lu MiB (state=%s): %s\n",
		    size_mb, bench_kind_names[kind], strerror(errno));
		return -ENOMEM;
	}
	/* A known pattern, so "state" gives the same checksum everywhere. */
	for (off = 0; off < size; off += bench_page_size)
		p[off] = (unsigned char)(off / bench_page_size);
	if (kind == BENCH_SHARED) {
		const void *ro = forkd_state_seal(p, size, fd);

		if (ro == NULL) {
			fprintf(stderr, "bench: cannot seal the state: %s\n",
			    strerror(errno));
			return -errno;
		}
		p = (unsigned char *)(uintptr_t)ro;
	}
	bench_state = p;
	bench_state_size = size;
	bench_size_mb = size_mb;
	return 0;
}

/* Parse "size_mb=N,state=plain|huge|shared" and allocate. */
static int
bench_init(const char *opts)
{
	const char	*p, *end, *eq, *val;
	unsigned long	 size_mb = 0;
	enum bench_kind	 kind = BENCH_HUGE;
	size_t		 keylen, vlen;
	int		 r;

	for (p = opts; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		keylen = eq != NULL ? (size_t)(eq - p) : (size_t)(end - p);
		if (eq == NULL) {
			fprintf(stderr, "bench: option '%.*s' needs a value "
			    "(size_mb=N, state=plain|huge|shared)\n",
			    (int)keylen, p);
			return -EINVAL;
		}
		val = eq + 1;
		vlen = (size_t)(end - val);
		if (keylen == strlen("size_mb") &&
		    strncmp(p, "size_mb", keylen) == 0) {
			r = bench_parse_ulong(val, vlen, &size_mb);
			if (r == 0 && size_mb > BENCH_SIZE_MB_MAX)
				r = -ERANGE;
			if (r != 0) {
				fprintf(stderr, "bench: bad size_mb '%.*s': "
				    "want an integer from 0 to %lu\n",
				    (int)vlen, val, BENCH_SIZE_MB_MAX);
				return r;
			}
		} else if (keylen == strlen("state") &&
		    strncmp(p, "state", keylen) == 0) {
			for (kind = 0; kind < BENCH_KIND_MAX; kind++)
				if (strlen(bench_kind_names[kind]) == vlen &&
				    strncmp(val, bench_kind_names[kind],
				    vlen) == 0)
					break;
			if (kind == BENCH_KIND_MAX) {
				fprintf(stderr, "bench: bad state '%.*s': want "
				    "plain, huge or shared\n", (int)vlen, val);
				return -EINVAL;
			}
		} else {
			fprintf(stderr, "bench: unknown option '%.*s' (known: "
			    "size_mb=N, state=plain|huge|shared)\n",
			    (int)keylen, p);
			return -EINVAL;
		}
	}
	if (bench_state != NULL) {
		munmap(bench_state, bench_state_size);
		bench_state = NULL;
		bench_state_size = 0;
		bench_size_mb = 0;
	}
	return bench_alloc(size_mb, kind);
}

/* Flush stdout: exit code 0, or 1 if the output could not be written. */
static int
bench_flush(void)
{
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Do nothing: the baseline spawn cost. */
static int
bench_noop(int argc, char **argv)
{
	return 0;
}

/* Write the byte "x" to stdout as the very first act, and return: the
 * child the harness times to its first instruction (like the anchor's
 * fork() child, it writes before anything else). */
static int
bench_byte(int argc, char **argv)
{
	return write(STDOUT_FILENO, "x", 1) == 1 ? 0 : 1;
}

/* Write one byte in each page of the state (the first MB MiB if given). */
static int
bench_touch(int argc, char **argv)
{
	unsigned long	 mb;
	size_t		 size = bench_state_size, off;

	if (argc > 2 || (argc == 2 &&
	    bench_parse_ulong(argv[1], strlen(argv[1]), &mb) != 0)) {
		fputs("usage: bench:touch [MB]\n", stderr);
		return 2;
	}
	if (bench_kind == BENCH_SHARED && size > 0) {
		fputs("bench:touch: the state is sealed read-only "
		    "(state=shared)\n", stderr);
		return 2;
	}
	if (argc == 2 && mb < bench_size_mb)
		size = (size_t)mb << 20;
	for (off = 0; off < size; off += bench_page_size)
		bench_state[off]++;
	return 0;
}

/* Exit with the code given. */
static int
bench_exit(int argc, char **argv)
{
	unsigned long	code;

	if (argc != 2 || bench_parse_ulong(argv[1], strlen(argv[1]),
	    &code) != 0 || code > 255) {
		fputs("usage: bench:exit CODE (0-255)\n", stderr);
		return 2;
	}
	return (int)code;
}

/* Sleep for a (fractional) number of seconds. */
static int
bench_sleep(int argc, char **argv)
{
	struct timespec	 ts;
	double		 s;
	char		*end;

	if (argc != 2)
		goto usage;
	errno = 0;
	s = strtod(argv[1], &end);
	if (end == argv[1] || *end != '\0' || errno != 0 || !isfinite(s) ||
	    s < 0 || s > BENCH_SLEEP_MAX)
		goto usage;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999)
		ts.tv_nsec = 999999999;
	while (nanosleep(&ts, &ts) == -1) {
		if (errno != EINTR) {
			perror("bench:sleep: nanosleep");
			return 1;
		}
	}
	return 0;
usage:
	fputs("usage: bench:sleep SECONDS (may be fractional)\n", stderr);
	return 2;
}

/* Copy stdin to stdout until end of file. */
static int
bench_echo(int argc, char **argv)
{
	char	 buf[65536];
	ssize_t	 n, w;
	size_t	 off;

	if (argc > 1) {
		fputs("usage: bench:echo\n", stderr);
		return 2;
	}
	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			perror("bench:echo: read");
			return 1;
		}
		if (n == 0)
			return 0;
		for (off = 0; off < (size_t)n; off += (size_t)w) {
			w = write(STDOUT_FILENO, buf + off, (size_t)n - off);
			if (w == -1 && errno == EINTR)
				w = 0;
			else if (w == -1) {
				perror("bench:echo: write");
				return 1;
			}
		}
	}
}

/* Print size_mb and an FNV-1a checksum of the state's 64-bit words. */
static int
bench_show_state(int argc, char **argv)
{
	const uint64_t	*w = (const uint64_t *)bench_state;
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i, n = bench_state_size / sizeof *w;

	if (argc > 1) {
		fputs("usage: bench:state\n", stderr);
		return 2;
	}
	for (i = 0; i < n; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	printf("size_mb=%lu state=%s checksum=%016llx\n", bench_size_mb,
	    bench_kind_names[bench_kind],
	    (unsigned long long)h);
	return bench_flush();
}

static const struct forkd_module_entry bench_entries[] = {
	{ "noop", bench_noop, "return 0 at once" },
	{ "touch", bench_touch, "[MB]: write one byte per page of the state" },
	{ "exit", bench_exit, "CODE: exit with CODE" },
	{ "sleep", bench_sleep, "SECONDS: sleep, fractions allowed" },
	{ "echo", bench_echo, "copy stdin to stdout" },
	{ "byte", bench_byte, "write the byte x to stdout, first thing" },
	{ "state", bench_show_state, "print size_mb and a checksum of the state" },
	{ NULL, NULL, NULL }
};

__attribute__((visibility("default")))
const struct forkd_module forkd_module_info = {
	.abi_version = FORKD_MODULE_ABI_VERSION,
	.name = "bench",
	.description = "benchmark entries over N MiB of copy-on-write state",
	.init = bench_init,
	.entries = bench_entries,
};
