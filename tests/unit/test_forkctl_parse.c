/* test_forkctl_parse.c: forkctl's option-value parsers (client/forkctl/
 * parse.c): what a user types for spawn's set-up options. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "parse.h"

#define WEEK_MS	(7ULL * 24 * 3600 * 1000)

static char	err[PARSE_ERR_MAX];

/* Expect parsing s as a duration to give want ms. */
static void
dur_ok(const char *s, uint64_t want)
{
	uint64_t	v = 12345;
	int		r = parse_duration_ms(s, WEEK_MS, &v, err, sizeof err);

	if (r != 0 || v != want)
		fail_msg("duration '%s': r %d, %llu ms (%s); expected %llu",
		    s, r, (unsigned long long)v, err,
		    (unsigned long long)want);
}

/* Expect s to be refused with code and an explanation; ret untouched. */
static void
dur_bad(const char *s, int code)
{
	uint64_t	v = 12345;
	int		r;

	err[0] = '\0';
	r = parse_duration_ms(s, WEEK_MS, &v, err, sizeof err);
	if (r != code || v != 12345 || err[0] == '\0')
		fail_msg("duration '%s': r %d, v %llu, err '%s'; expected %d",
		    s, r, (unsigned long long)v, err, code);
}

static void
test_durations(void **state)
{
	(void)state;
	dur_ok("500ms", 500);
	dur_ok("2s", 2000);
	dur_ok("2", 2000);
	dur_ok("1.5", 1500);
	dur_ok("0.25s", 250);
	dur_ok("1m", 60000);
	dur_ok("1.5min", 90000);
	dur_ok("2h", 7200000);
	dur_ok("1d", 86400000);
	dur_ok("7d", WEEK_MS);
	dur_ok("0", 0);
	dur_ok("10MS", 10);
	dur_ok("0.0004s", 0);		/* rounds to nearest ms */
	dur_ok(".5s", 500);
	dur_bad("", -EINVAL);
	dur_bad("s", -EINVAL);
	dur_bad("1.", -EINVAL);
	dur_bad("1 s", -EINVAL);
	dur_bad("5x", -EINVAL);
	dur_bad("1ms5", -EINVAL);
	dur_bad("-1s", -ERANGE);
	dur_bad("8d", -ERANGE);
	dur_bad("604800001ms", -ERANGE);
	dur_bad("99999999999999999999999", -ERANGE);
	dur_bad("18446744073709551615d", -ERANGE);
}

/* Expect size s to give want bytes. */
static void
size_ok(const char *s, uint64_t want)
{
	uint64_t	v = 7;
	int		r = parse_size(s, &v, err, sizeof err);

	if (r != 0 || v != want)
		fail_msg("size '%s': r %d, %llu (%s); expected %llu", s, r,
		    (unsigned long long)v, err, (unsigned long long)want);
}

static void
size_bad(const char *s, int code)
{
	uint64_t	v = 7;
	int		r;

	err[0] = '\0';
	r = parse_size(s, &v, err, sizeof err);
	if (r != code || v != 7 || err[0] == '\0')
		fail_msg("size '%s': r %d, v %llu, err '%s'; expected %d", s,
		    r, (unsigned long long)v, err, code);
}

static void
test_sizes(void **state)
{
	(void)state;
	size_ok("0", 0);
	size_ok("4096", 4096);
	size_ok("512B", 512);
	size_ok("64K", 65536);
	size_ok("64k", 65536);
	size_ok("64KiB", 65536);
	size_ok("64KB", 65536);
	size_ok("1M", 1048576);
	size_ok("1.5M", 1572864);
	size_ok("2G", 2147483648ULL);
	size_ok("1T", 1099511627776ULL);
	size_ok("18446744073709551615", UINT64_MAX);
	size_bad("", -EINVAL);
	size_bad("M", -EINVAL);
	size_bad("1.5", -EINVAL);	/* bytes have no fraction */
	size_bad("12Q", -EINVAL);
	size_bad("12KX", -EINVAL);
	size_bad("1 K", -EINVAL);
	size_bad("-1", -ERANGE);
	size_bad("18446744073709551616", -ERANGE);
	size_bad("16777216T", -ERANGE);
}

/* Expect rlimit spec s to give resource/soft/hard. */
static void
rl_ok(const char *s, int res, uint64_t soft, uint64_t hard)
{
	struct forkd_rlimit	rl = { -1, 0, 0 };
	int			r = parse_rlimit(s, &rl, err, sizeof err);

	if (r != 0 || rl.resource != res || rl.soft != soft ||
	    rl.hard != hard)
		fail_msg("rlimit '%s': r %d (%s), %d %llu:%llu; expected %d "
		    "%llu:%llu", s, r, err, rl.resource,
		    (unsigned long long)rl.soft, (unsigned long long)rl.hard,
		    res, (unsigned long long)soft, (unsigned long long)hard);
}

static void
rl_bad(const char *s, const char *needle)
{
	struct forkd_rlimit	rl = { -1, 1, 2 };
	int			r;

	err[0] = '\0';
	r = parse_rlimit(s, &rl, err, sizeof err);
	if (r >= 0 || rl.resource != -1 || rl.soft != 1 || rl.hard != 2)
		fail_msg("rlimit '%s': r %d, accepted or touched ret", s, r);
	if (strstr(err, needle) == NULL)
		fail_msg("rlimit '%s': error '%s' lacks '%s'", s, err, needle);
}

static void
test_rlimits(void **state)
{
	(void)state;
	rl_ok("nofile=64", RLIMIT_NOFILE, 64, 64);
	rl_ok("NOFILE=64:128", RLIMIT_NOFILE, 64, 128);
	rl_ok("RLIMIT_NPROC=10", RLIMIT_NPROC, 10, 10);
	rl_ok("rlimit_core=0:unlimited", RLIMIT_CORE, 0, FORKD_RLIM_INFINITY);
	rl_ok("core=infinity", RLIMIT_CORE, FORKD_RLIM_INFINITY,
	    FORKD_RLIM_INFINITY);
	rl_ok("as=1G", RLIMIT_AS, 1073741824ULL, 1073741824ULL);
	rl_ok("stack=8M:unlimited", RLIMIT_STACK, 8388608, FORKD_RLIM_INFINITY);
	rl_ok("memlock=64K", RLIMIT_MEMLOCK, 65536, 65536);
	rl_ok("cpu=10:20", RLIMIT_CPU, 10, 20);
	rl_ok("fsize=0", RLIMIT_FSIZE, 0, 0);
	rl_ok("data=Unlimited", RLIMIT_DATA, FORKD_RLIM_INFINITY,
	    FORKD_RLIM_INFINITY);
	rl_ok("rttime=500000", RLIMIT_RTTIME, 500000, 500000);
	rl_ok("sigpending=100", RLIMIT_SIGPENDING, 100, 100);
	rl_ok("msgqueue=1M", RLIMIT_MSGQUEUE, 1048576, 1048576);
	rl_ok("nice=0", RLIMIT_NICE, 0, 0);
	rl_ok("rtprio=0", RLIMIT_RTPRIO, 0, 0);
	rl_ok("locks=5", RLIMIT_LOCKS, 5, 5);
	rl_ok("rss=1G", RLIMIT_RSS, 1073741824ULL, 1073741824ULL);
	rl_bad("nofile", "NAME=SOFT");
	rl_bad("=5", "NAME=SOFT");
	rl_bad("nofiles=5", "unknown resource 'nofiles'");
	rl_bad("nofile=", "bad limit");
	rl_bad("nofile=64K", "not a whole number");	/* counts: no sizes */
	rl_bad("nofile=-1", "soft limit");
	rl_bad("nofile=10:5", "above the hard limit");
	rl_bad("nofile=unlimited:5", "above the hard limit");
	rl_bad("as=1G:x", "hard limit");
	rl_bad("nofile=1:2:3", "hard limit");
	rl_bad("nofile=18446744073709551615", "soft limit"); /* = infinity */
	/* Names and numbers agree both ways. */
	for (int res = 0; res < 16; res++) {
		const char	*name = parse_rlimit_name(res);
		int		 bytes;

		assert_non_null(name);
		assert_int_equal(parse_rlimit_resource(name, strlen(name),
		    &bytes), res);
	}
	assert_null(parse_rlimit_name(16));
}

/* Expect CPU list s to give want[0..n). */
static void
cpus_ok(const char *s, const int *want, size_t n)
{
	int	cpus[1024];
	size_t	got = 99;
	int	r = parse_cpus(s, cpus, 1024, 1024, &got, err, sizeof err);

	if (r != 0 || got != n)
		fail_msg("cpus '%s': r %d (%s), %zu CPUs; expected %zu", s, r,
		    err, got, n);
	for (size_t i = 0; i < n; i++) {
		if (cpus[i] != want[i])
			fail_msg("cpus '%s': [%zu] is %d, expected %d", s, i,
			    cpus[i], want[i]);
	}
}

static void
cpus_bad(const char *s, int code)
{
	int	cpus[4];
	size_t	got = 99;
	int	r;

	err[0] = '\0';
	r = parse_cpus(s, cpus, 4, 1024, &got, err, sizeof err);
	if (r != code || got != 99 || err[0] == '\0')
		fail_msg("cpus '%s': r %d, n %zu, err '%s'; expected %d", s,
		    r, got, err, code);
}

static void
test_cpus(void **state)
{
	static const int	a[] = { 0, 2, 3 }, b[] = { 0 },
				c[] = { 1, 2, 3, 5 }, d[] = { 1023 };
	int			all[1024];
	size_t			n;

	(void)state;
	cpus_ok("0,2-3", a, 3);
	cpus_ok("3,2,0,2", a, 3);	/* sorted, duplicates once */
	cpus_ok("0", b, 1);
	cpus_ok("0-0", b, 1);
	cpus_ok("5,1-3,2", c, 4);
	cpus_ok("1023", d, 1);
	assert_int_equal(parse_cpus("0-1023", all, 1024, 1024, &n, err,
	    sizeof err), 0);
	assert_int_equal(n, 1024);
	assert_int_equal(all[1023], 1023);
	cpus_bad("", -EINVAL);
	cpus_bad(",", -EINVAL);
	cpus_bad("0,", -EINVAL);
	cpus_bad("a", -EINVAL);
	cpus_bad("1-", -EINVAL);
	cpus_bad("-1", -EINVAL);
	cpus_bad("3-1", -EINVAL);
	cpus_bad("0 1", -EINVAL);
	cpus_bad("1024", -ERANGE);
	cpus_bad("0-1024", -ERANGE);
	cpus_bad("99999999999999999999", -ERANGE);
	cpus_bad("0-4", -ERANGE);	/* 5 CPUs, room for 4 */
}

static void
test_namespaces(void **state)
{
	unsigned int	ns = 0;

	(void)state;
	assert_int_equal(parse_namespaces("pid", &ns, err, sizeof err), 0);
	assert_int_equal(ns, FORKD_NS_PID);
	assert_int_equal(parse_namespaces("pid,mount,net,ipc,uts,user", &ns,
	    err, sizeof err), 0);
	assert_int_equal(ns, FORKD_NS_PID | FORKD_NS_MOUNT | FORKD_NS_NET |
	    FORKD_NS_IPC | FORKD_NS_UTS | FORKD_NS_USER);
	assert_int_equal(parse_namespaces("all", &ns, err, sizeof err), 0);
	assert_int_equal(ns, 0x3f);
	assert_int_equal(parse_namespaces("MNT,Network", &ns, err,
	    sizeof err), 0);
	assert_int_equal(ns, FORKD_NS_MOUNT | FORKD_NS_NET);
	assert_int_equal(parse_namespaces("uts,uts", &ns, err, sizeof err), 0);
	assert_int_equal(ns, FORKD_NS_UTS);
	ns = 77;
	assert_int_equal(parse_namespaces("pid,cgroup", &ns, err, sizeof err),
	    -EINVAL);
	assert_int_equal(ns, 77);
	assert_non_null(strstr(err, "'cgroup'"));
	assert_int_equal(parse_namespaces("", &ns, err, sizeof err), -EINVAL);
	assert_int_equal(parse_namespaces("pid,", &ns, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_namespaces(",pid", &ns, err, sizeof err),
	    -EINVAL);
	assert_int_equal(ns, 77);
}

static void
test_numbers(void **state)
{
	uint64_t	u = 5;
	long		l = 5;
	int		m = 5;

	(void)state;
	assert_int_equal(parse_uint("64", 1, 100, &u, err, sizeof err), 0);
	assert_int_equal(u, 64);
	assert_int_equal(parse_uint("0", 1, 100, &u, err, sizeof err),
	    -ERANGE);
	assert_int_equal(parse_uint("101", 1, 100, &u, err, sizeof err),
	    -ERANGE);
	assert_int_equal(parse_uint("1.0", 1, 100, &u, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_uint("1x", 1, 100, &u, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_uint("", 1, 100, &u, err, sizeof err), -EINVAL);
	assert_int_equal(u, 64);

	assert_int_equal(parse_int("-20", -20, 19, &l, err, sizeof err), 0);
	assert_int_equal(l, -20);
	assert_int_equal(parse_int("19", -20, 19, &l, err, sizeof err), 0);
	assert_int_equal(parse_int("20", -20, 19, &l, err, sizeof err),
	    -ERANGE);
	assert_int_equal(parse_int("-21", -20, 19, &l, err, sizeof err),
	    -ERANGE);
	assert_int_equal(parse_int(" 1", -20, 19, &l, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_int("1a", -20, 19, &l, err, sizeof err),
	    -EINVAL);
	assert_int_equal(l, 19);

	assert_int_equal(parse_umask("022", &m, err, sizeof err), 0);
	assert_int_equal(m, 022);
	assert_int_equal(parse_umask("0777", &m, err, sizeof err), 0);
	assert_int_equal(m, 0777);
	assert_int_equal(parse_umask("7", &m, err, sizeof err), 0);
	assert_int_equal(m, 7);
	assert_int_equal(parse_umask("8", &m, err, sizeof err), -EINVAL);
	assert_int_equal(parse_umask("1000", &m, err, sizeof err), -EINVAL);
	assert_int_equal(parse_umask("00777", &m, err, sizeof err), -EINVAL);
	assert_int_equal(parse_umask("", &m, err, sizeof err), -EINVAL);
	assert_int_equal(parse_umask("u=rwx", &m, err, sizeof err), -EINVAL);
	assert_int_equal(m, 7);
}

static void
test_cpu_max(void **state)
{
	uint32_t	q = 1, p = 1;

	(void)state;
	assert_int_equal(parse_cpu_max("50000", &q, &p, err, sizeof err), 0);
	assert_int_equal(q, 50000);
	assert_int_equal(p, 0);
	assert_int_equal(parse_cpu_max("200000/100000", &q, &p, err,
	    sizeof err), 0);
	assert_int_equal(q, 200000);
	assert_int_equal(p, 100000);
	assert_int_equal(parse_cpu_max("999", &q, &p, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_cpu_max("5000/999", &q, &p, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_cpu_max("5000/1000001", &q, &p, err,
	    sizeof err), -EINVAL);
	assert_int_equal(parse_cpu_max("5000/", &q, &p, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_cpu_max("max", &q, &p, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_cpu_max("4294967296", &q, &p, err, sizeof err),
	    -EINVAL);
	assert_int_equal(q, 200000);
	assert_int_equal(p, 100000);
}

static void
test_ids(void **state)
{
	gid_t	groups[4], g = 7;
	uid_t	u = 7;
	size_t	n = 9;
	char	name[64];

	(void)state;
	assert_int_equal(parse_user("root", &u, &g, name, sizeof name, err,
	    sizeof err), 0);
	assert_int_equal(u, 0);
	assert_int_equal(g, 0);
	assert_string_equal(name, "root");
	assert_int_equal(parse_user("0", &u, &g, name, sizeof name, err,
	    sizeof err), 0);
	assert_string_equal(name, "root");
	/* A uid without a passwd entry: no primary group known. */
	assert_int_equal(parse_user("3999999", &u, &g, name, sizeof name, err,
	    sizeof err), 0);
	assert_int_equal(u, 3999999);
	assert_int_equal(g, (gid_t)-1);
	assert_string_equal(name, "");
	u = 7;
	assert_int_equal(parse_user("no-such-user-xyz", &u, &g, name,
	    sizeof name, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "no-such-user-xyz"));
	assert_int_equal(parse_user("4294967295", &u, &g, name, sizeof name,
	    err, sizeof err), -ERANGE);
	assert_int_equal(u, 7);

	assert_int_equal(parse_group("root", &g, err, sizeof err), 0);
	assert_int_equal(g, 0);
	assert_int_equal(parse_group("1234", &g, err, sizeof err), 0);
	assert_int_equal(g, 1234);
	assert_int_equal(parse_group("no-such-group-xyz", &g, err,
	    sizeof err), -EINVAL);
	assert_int_equal(g, 1234);

	assert_int_equal(parse_groups("", groups, 4, &n, err, sizeof err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_groups("root,5,6,5", groups, 4, &n, err,
	    sizeof err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(groups[0], 0);
	assert_int_equal(groups[2], 6);
	n = 9;
	assert_int_equal(parse_groups("1,2,3,4,5", groups, 4, &n, err,
	    sizeof err), -ERANGE);
	assert_int_equal(parse_groups("1,,2", groups, 4, &n, err, sizeof err),
	    -EINVAL);
	assert_int_equal(n, 9);
}

/* spawn --stdin/--stdout/--stderr SPEC: the keywords, the redirection
 * prefixes, and a bare FILE read for stdin, written otherwise. */
static void
test_io_specs(void **state)
{
	struct parse_io	io;
	const int	wr = O_WRONLY | O_CREAT;

	(void)state;
	assert_int_equal(parse_io_spec("null", 0, &io, err, sizeof err), 0);
	assert_int_equal(io.kind, PARSE_IO_NULL);
	assert_int_equal(parse_io_spec("inherit", 1, &io, err, sizeof err), 0);
	assert_int_equal(io.kind, PARSE_IO_INHERIT);

	assert_int_equal(parse_io_spec("log", 0, &io, err, sizeof err), 0);
	assert_int_equal(io.kind, PARSE_IO_FILE);
	assert_string_equal(io.path, "log");
	assert_int_equal(io.flags, wr | O_TRUNC);
	assert_int_equal(parse_io_spec("in.txt", 1, &io, err, sizeof err), 0);
	assert_int_equal(io.flags, O_RDONLY);
	assert_string_equal(io.path, "in.txt");

	assert_int_equal(parse_io_spec(">>/var/log/x", 0, &io, err,
	    sizeof err), 0);
	assert_int_equal(io.flags, wr | O_APPEND);
	assert_string_equal(io.path, "/var/log/x");
	assert_int_equal(parse_io_spec(">out", 1, &io, err, sizeof err), 0);
	assert_int_equal(io.flags, wr | O_TRUNC);
	assert_string_equal(io.path, "out");
	assert_int_equal(parse_io_spec("<in", 0, &io, err, sizeof err), 0);
	assert_int_equal(io.flags, O_RDONLY);
	assert_string_equal(io.path, "in");
	assert_int_equal(parse_io_spec("<>both", 0, &io, err, sizeof err), 0);
	assert_int_equal(io.flags, O_RDWR | O_CREAT);
	assert_string_equal(io.path, "both");
	/* A file named like a keyword, by a path. */
	assert_int_equal(parse_io_spec("./null", 0, &io, err, sizeof err), 0);
	assert_int_equal(io.kind, PARSE_IO_FILE);
	assert_string_equal(io.path, "./null");

	/* No file: refused with a reason, io untouched. */
	io.kind = PARSE_IO_INHERIT;
	io.path = "kept";
	for (const char *const *b = (const char *const[]){ "", ">", ">>", "<",
	    "<>", NULL }; *b != NULL; b++) {
		err[0] = '\0';
		if (parse_io_spec(*b, 0, &io, err, sizeof err) != -EINVAL ||
		    err[0] == '\0')
			fail_msg("io spec '%s' accepted", *b);
	}
	assert_int_equal(io.kind, PARSE_IO_INHERIT);
	assert_string_equal(io.path, "kept");
}

/* spawn --fd N=SPEC: 3..63, stdio refused with the option to use. */
static void
test_fd_specs(void **state)
{
	struct parse_io	io;
	int		fd = -7;

	(void)state;
	assert_int_equal(parse_fd_spec("3=result", &fd, &io, err, sizeof err),
	    0);
	assert_int_equal(fd, 3);
	assert_int_equal(io.kind, PARSE_IO_FILE);
	assert_int_equal(io.flags, O_WRONLY | O_CREAT | O_TRUNC);
	assert_string_equal(io.path, "result");
	assert_int_equal(parse_fd_spec("63=<in", &fd, &io, err, sizeof err),
	    0);
	assert_int_equal(fd, 63);
	assert_int_equal(io.flags, O_RDONLY);
	assert_int_equal(parse_fd_spec("4=inherit", &fd, &io, err, sizeof err),
	    0);
	assert_int_equal(io.kind, PARSE_IO_INHERIT);
	/* A path with '=' in it: only the first one splits. */
	assert_int_equal(parse_fd_spec("5=a=b", &fd, &io, err, sizeof err),
	    0);
	assert_string_equal(io.path, "a=b");

	fd = -7;
	assert_int_equal(parse_fd_spec("1=x", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_non_null(strstr(err, "--stdout"));
	assert_int_equal(parse_fd_spec("0=x", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_non_null(strstr(err, "--stdin"));
	assert_int_equal(parse_fd_spec("64=x", &fd, &io, err, sizeof err),
	    -ERANGE);
	assert_int_equal(parse_fd_spec("3", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_fd_spec("=x", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_fd_spec("x=y", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_fd_spec("3=", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_int_equal(parse_fd_spec("-3=x", &fd, &io, err, sizeof err),
	    -EINVAL);
	assert_int_equal(fd, -7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_rlimits),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_cpu_max),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_io_specs),
		cmocka_unit_test(test_fd_specs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
