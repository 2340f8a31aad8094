/* testing.c: entries the test suites need to see what a child got: its
 * fds, environment, working directory and files, and a crash.
 *
 * Built with the tests only and never installed: testing:cat prints any
 * file forkd's user can read, so no shipped config may offer it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkd_module.h"

extern char	**environ;

/* Flush stdout: exit code 0, or 1 if the output could not be written. */
static int
testing_flush(void)
{
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Compare two ints for qsort(). */
static int
testing_cmp_int(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Print the open fds, sorted, without the one used to list them. */
static int
testing_fds(int argc, char **argv)
{
	DIR		*d;
	struct dirent	*de;
	int		*fds = NULL, *nfds, self;
	size_t		 n = 0, cap = 0, i;
	char		*end;
	long		 fd;
	int		 ret = 1;

	if (argc > 1) {
		fputs("usage: testing:fds\n", stderr);
		return 2;
	}
	if ((d = opendir("/proc/self/fd")) == NULL) {
		perror("testing:fds: /proc/self/fd");
		return 1;
	}
	self = dirfd(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &end, 10);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' ||
		    *end != '\0' || fd == self)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nfds = realloc(fds, cap * sizeof *fds)) == NULL) {
				perror("testing:fds");
				goto out;
			}
			fds = nfds;
		}
		fds[n++] = (int)fd;
	}
	if (errno != 0) {
		perror("testing:fds: readdir");
		goto out;
	}
	qsort(fds, n, sizeof *fds, testing_cmp_int);
	for (i = 0; i < n; i++)
		printf("%d\n", fds[i]);
	ret = testing_flush();
out:
	closedir(d);
	free(fds);
	return ret;
}

/* Print the environment, one variable per line. */
static int
testing_env(int argc, char **argv)
{
	char	**e;

	if (argc > 1) {
		fputs("usage: testing:env\n", stderr);
		return 2;
	}
	for (e = environ; e != NULL && *e != NULL; e++)
		puts(*e);
	return testing_flush();
}

/* Print the working directory. */
static int
testing_cwd(int argc, char **argv)
{
	char	*cwd;

	if (argc > 1) {
		fputs("usage: testing:cwd\n", stderr);
		return 2;
	}
	if ((cwd = getcwd(NULL, 0)) == NULL) {
		perror("testing:cwd: getcwd");
		return 1;
	}
	puts(cwd);
	free(cwd);
	return testing_flush();
}

/* Die by SIGSEGV. */
static int
testing_crash(int argc, char **argv)
{
	/* Default action, so a sanitizer's handler cannot turn it into exit 1. */
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	return 1;
}

/* Copy each file named to stdout (what a child sees in /proc/self). */
static int
testing_cat(int argc, char **argv)
{
	char	 buf[8192];
	size_t	 n;
	FILE	*f;
	int	 ret = 0;

	if (argc < 2) {
		fputs("usage: testing:cat FILE...\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "r")) == NULL) {
			fprintf(stderr, "testing:cat: %s: %s\n", argv[i],
			    strerror(errno));
			ret = 1;
			continue;
		}
		while ((n = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, n, stdout);
		fclose(f);
	}
	return testing_flush() != 0 ? 1 : ret;
}

/* Print the target of each symbolic link named, one per line (namespace
 * links in /proc/self/ns). */
static int
testing_readlink(int argc, char **argv)
{
	char	buf[4096];
	ssize_t	n;
	int	ret = 0;

	if (argc < 2) {
		fputs("usage: testing:readlink LINK...\n", stderr);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if ((n = readlink(argv[i], buf, sizeof buf - 1)) < 0) {
			fprintf(stderr, "testing:readlink: %s: %s\n", argv[i],
			    strerror(errno));
			ret = 1;
			continue;
		}
		buf[n] = '\0';
		puts(buf);
	}
	return testing_flush() != 0 ? 1 : ret;
}

/* Search the whole readable memory of this process for needle, skipping
 * the copy at skip; print each hit's mapping; return how many (max 100). */
static int
testing_scan(const unsigned char *needle, size_t n, const void *skip)
{
	static unsigned char	 buf[1 << 20];
	char			 line[512], path[256];
	unsigned long		 lo, hi;
	char			 perms[8];
	FILE			*maps;
	int			 mem, hits = 0;

	if ((maps = fopen("/proc/self/maps", "r")) == NULL ||
	    (mem = open("/proc/self/mem", O_RDONLY)) < 0) {
		perror("testing:memscan: /proc/self");
		return 100;
	}
	while (fgets(line, sizeof line, maps) != NULL) {
		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi,
		    perms, path) < 3 || perms[0] != 'r' ||
		    strcmp(path, "[vvar]") == 0 ||
		    strcmp(path, "[vsyscall]") == 0 ||
		    strcmp(path, "[vvar_vclock]") == 0 ||
		    hi - lo > (1UL << 32))	/* sanitizer reservations */
			continue;
		/* Chunks overlap by n - 1 bytes so no hit straddles two. */
		for (unsigned long a = lo; a < hi; a += sizeof buf - n) {
			size_t	 want = hi - a < sizeof buf ? hi - a : sizeof buf;
			ssize_t	 got = pread(mem, buf, want, (off_t)a);
			const unsigned char *p = buf, *q;

			if (got <= 0)
				break;
			while ((q = memmem(p, (size_t)got - (size_t)(p - buf),
			    needle, n)) != NULL) {
				const void *at = (const void *)(a + (unsigned long)
				    (q - buf));

				/* Not the needle, not our own read buffer. */
				if (at != skip && ((const unsigned char *)at <
				    buf || (const unsigned char *)at >=
				    buf + sizeof buf) && hits < 100) {
					printf("hit at %p in %s\n", at,
					    path[0] != '\0' ? path : "[anon]");
					hits++;
				}
				p = q + 1;
			}
			if ((size_t)got < want || hi - a <= sizeof buf)
				break;
		}
	}
	close(mem);
	fclose(maps);
	return hits;
}

/* Look for a secret in this child's memory: argv[1] is the secret with
 * every byte plus one, so that the request itself does not hold it. Exit
 * status: the number of copies found (0: none), each printed. */
static int
testing_memscan(int argc, char **argv)
{
	unsigned char	*needle;
	size_t		 n;
	int		 hits;

	if (argc != 2 || (n = strlen(argv[1])) < 8) {
		fputs("usage: testing:memscan SECRET+1 (8 bytes or more)\n",
		    stderr);
		return 2;
	}
	if ((needle = malloc(n)) == NULL)
		return 100;
	for (size_t i = 0; i < n; i++)
		needle[i] = (unsigned char)(argv[1][i] - 1);
	hits = testing_scan(needle, n, needle);
	free(needle);
	if (testing_flush() != 0)
		return 100;
	return hits;
}

/* How many times forkd_module_pool_warm() ran in this process. */
static int	testing_warm_calls;

/* forkd's pool-warm hook: counted, for testing:warmed. */
FORKD_MODULE_EXPORT void	forkd_module_pool_warm(void);

void
forkd_module_pool_warm(void)
{
	testing_warm_calls++;
}

/* Print how many times the pool-warm hook ran in this child: 1 when it
 * was a pool child, 0 when forkd forked it for the spawn (--pool 0). */
static int
testing_warmed(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("%d\n", testing_warm_calls);
	return testing_flush();
}

static const struct forkd_module_entry testing_entries[] = {
	{ "fds", testing_fds, "print the open fd numbers, sorted" },
	{ "env", testing_env, "print the environment" },
	{ "cwd", testing_cwd, "print the working directory" },
	{ "crash", testing_crash, "die by SIGSEGV" },
	{ "cat", testing_cat, "FILE...: copy files to stdout" },
	{ "readlink", testing_readlink, "LINK...: print symbolic link targets" },
	{ "warmed", testing_warmed, "print how many times the pool-warm "
	    "hook ran in this child" },
	{ "memscan", testing_memscan, "SECRET+1: count copies of SECRET in "
	    "this child's memory" },
	{ NULL, NULL, NULL }
};

__attribute__((visibility("default")))
const struct forkd_module forkd_module_info = {
	.abi_version = FORKD_MODULE_ABI_VERSION,
	.name = "testing",
	.description = "test-suite entries (never installed): fds, env, cwd, "
	    "files",
	.init = NULL,
	.entries = testing_entries,
};
