/* test_keys.c: authentication against a real forkd, key file checks and
 * other start-up errors (exit 1 with a message naming the culprit; exit 2
 * for usage errors). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

/* A wrong key is refused; the right one still works, and the failure is
 * counted. */
static void
test_wrong_key(void **state)
{
	unsigned char		 wrong[32], right[64];
	struct forkd		*f = NULL, *g;
	struct forkd_status	*st = NULL;
	uint64_t		 before;
	int			 r, fd;

	g = harness_connect(&H);
	EXPECT_OK(g, forkd_status(g, &st));
	before = st->auth_failures;
	forkd_status_free(st);

	assert_int_equal(getrandom(wrong, sizeof wrong, 0), sizeof wrong);
	r = forkd_connect_key(&f, H.h_sock, wrong, sizeof wrong);
	if (r != -EKEYREJECTED)
		fail_msg("connect with a wrong key: %d (%s), expected "
		    "-EKEYREJECTED", r, forkd_strerror(r));
	/* A key that is the right one plus a byte is a different key. */
	fd = open(H.h_key, O_RDONLY | O_CLOEXEC);
	assert_int_equal(read(fd, right, sizeof right), 32);
	close(fd);
	right[32] = 'x';
	r = forkd_connect_key(&f, H.h_sock, right, 33);
	if (r != -EKEYREJECTED)
		fail_msg("connect with the key plus one byte: %d (%s), "
		    "expected -EKEYREJECTED", r, forkd_strerror(r));
	/* Several in a row do not disturb the daemon. */
	for (int i = 0; i < 5; i++) {
		wrong[0] = (unsigned char)i;
		r = forkd_connect_key(&f, H.h_sock, wrong, sizeof wrong);
		EXPECT_INT(r, -EKEYREJECTED, "connect with a wrong key");
	}

	/* The right key, from memory and from the file. */
	EXPECT_OK(g, forkd_ping(g));
	r = forkd_connect_key(&f, H.h_sock, right, 32);
	if (r != 0)
		fail_msg("connect with the right key in memory: %d (%s)", r,
		    forkd_strerror(r));
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	f = harness_connect(&H);
	EXPECT_OK(f, forkd_ping(f));

	EXPECT_OK(f, forkd_status(f, &st));
	if (st->auth_failures < before + 7)
		fail_msg("auth_failures went from %llu to %llu after 7 wrong "
		    "keys", (unsigned long long)before,
		    (unsigned long long)st->auth_failures);
	forkd_status_free(st);
	forkd_close(f);
	forkd_close(g);
}

/* Argument errors of the client library. */
static void
test_client_args(void **state)
{
	unsigned char	 k[31] = { 0 };
	struct forkd	*f = NULL;
	char		 missing[HARNESS_PATH_MAX + 16];

	EXPECT_INT(forkd_connect_key(&f, H.h_sock, k, sizeof k), -EINVAL,
	    "connect with a 31-byte key");
	snprintf(missing, sizeof missing, "%s/no-such-key", H.h_dir);
	EXPECT_INT(forkd_connect(&f, H.h_sock, missing), -ENOENT,
	    "connect with a missing key file");
	snprintf(missing, sizeof missing, "%s/no-such.sock", H.h_dir);
	{
		int r = forkd_connect(&f, missing, H.h_key);

		if (r != -ENOENT && r != -ECONNREFUSED)
			fail_msg("connect to a missing socket: %d (%s)", r,
			    forkd_strerror(r));
	}
}

/* Run a second forkd with key file key on another socket; return its
 * status and output. */
static int
run_forkd_with_key(const char *key, const char *sock, char *out,
    size_t outlen)
{
	char		pi[HARNESS_PATH_MAX + 16];
	const char	*argv[] = { harness_forkd_bin(), "-s", sock, "-k", key,
	    "-m", pi, NULL };

	snprintf(pi, sizeof pi, "%s/pi.so", harness_module_dir());
	return harness_run(argv, out, outlen, 10000);
}

/* A key file that is too open: forkd exits 1 naming the file. */
static void
test_key_too_open(void **state)
{
	char		key[HARNESS_PATH_MAX + 16], sock[HARNESS_PATH_MAX + 16];
	char		out[4096];
	unsigned char	buf[32];
	int		fd, st;

	snprintf(key, sizeof key, "%s/open-key", H.h_dir);
	snprintf(sock, sizeof sock, "%s/second.sock", H.h_dir);
	assert_int_equal(getrandom(buf, sizeof buf, 0), sizeof buf);
	fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, sizeof buf), sizeof buf);
	close(fd);

	assert_int_equal(chmod(key, 0644), 0);
	st = run_forkd_with_key(key, sock, out, sizeof out);
	if (st == -1)
		fail_msg("forkd with a 0644 key did not exit within 10 s; "
		    "output: %s", out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("forkd with a 0644 key: status %#x, expected exit 1; "
		    "output: %s", st, out);
	EXPECT_CONTAINS(out, key, "forkd's message for a 0644 key");
	if (access(sock, F_OK) == 0)
		fail_msg("forkd that refused to start left socket %s", sock);

	assert_int_equal(chmod(key, 0660), 0);
	st = run_forkd_with_key(key, sock, out, sizeof out);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("forkd with a 0660 key: status %#x, expected exit 1; "
		    "output: %s", st, out);
	EXPECT_CONTAINS(out, key, "forkd's message for a 0660 key");

	/* A short key. */
	assert_int_equal(chmod(key, 0600), 0);
	assert_int_equal(truncate(key, 16), 0);
	st = run_forkd_with_key(key, sock, out, sizeof out);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("forkd with a 16-byte key: status %#x, expected exit "
		    "1; output: %s", st, out);
	EXPECT_CONTAINS(out, key, "forkd's message for a 16-byte key");

	/* A missing key. */
	unlink(key);
	st = run_forkd_with_key(key, sock, out, sizeof out);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("forkd with a missing key: status %#x, expected exit "
		    "1; output: %s", st, out);
	EXPECT_CONTAINS(out, key, "forkd's message for a missing key");

	/* The first forkd is unaffected. */
	{
		struct forkd *f = harness_connect(&H);

		EXPECT_OK(f, forkd_ping(f));
		forkd_close(f);
	}
}

/* A second forkd on the socket of a running one refuses to start. */
static void
test_socket_in_use(void **state)
{
	char	out[4096];
	int	st;

	st = run_forkd_with_key(H.h_key, H.h_sock, out, sizeof out);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("second forkd on a socket in use: status %#x, "
		    "expected exit 1; output: %s", st, out);
	EXPECT_CONTAINS(out, H.h_sock, "message of the second forkd");
	{
		struct forkd *f = harness_connect(&H);

		EXPECT_OK(f, forkd_ping(f));
		forkd_close(f);
	}
}

/* Usage errors exit 2 with a message that says what was wrong; --help and
 * -V exit 0. */
static void
test_usage(void **state)
{
	static const struct {
		const char	*arg, *value;	/* value NULL: none */
		int		 status;
		const char	*needle;
	} cases[] = {
		{ "--no-such-option", NULL, 2,
		    "forkd: unknown option --no-such-option" },
		{ "--pool", "abc", 2, "forkd: --pool: 'abc'" },
		{ "--config", NULL, 2, "forkd: option --config needs a value" },
		{ "stray-argument", NULL, 2,
		    "forkd: unexpected argument 'stray-argument'" },
		{ "--help", NULL, 0, "--socket" },
		{ "--help", NULL, 0, "--key" },
		{ "--help", NULL, 0, "--module" },
		{ "-V", NULL, 0, "forkd" },
	};
	char		out[8192];
	int		st;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *argv[] = { harness_forkd_bin(), cases[i].arg,
		    cases[i].value, NULL };

		st = harness_run(argv, out, sizeof out, 10000);
		if (st == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != cases[i].status)
			fail_msg("forkd %s%s%s: status %#x, expected exit %d; "
			    "output: %s", cases[i].arg, cases[i].value ? " " :
			    "", cases[i].value ? cases[i].value : "", st,
			    cases[i].status, out);
		EXPECT_CONTAINS(out, cases[i].needle, cases[i].arg);
	}
}

/* A module that does not exist stops start-up with exit 1. */
static void
test_bad_module(void **state)
{
	char		out[4096], sock[HARNESS_PATH_MAX + 16];
	const char	*argv[] = { harness_forkd_bin(), "-s", sock, "-k",
	    H.h_key, "-m", "/nonexistent/forkd-test-module.so", NULL };
	int		st;

	snprintf(sock, sizeof sock, "%s/third.sock", H.h_dir);
	st = harness_run(argv, out, sizeof out, 10000);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 1)
		fail_msg("forkd with a missing module: status %#x, expected "
		    "exit 1; output: %s", st, out);
	EXPECT_CONTAINS(out, "forkd-test-module.so", "message of forkd");
}

/* Run forkd with extra arguments (socket in the temp dir, the good key);
 * expect exit status want and output mentioning needle. */
static void
expect_startup(const char *const *extra, int want, const char *needle,
    const char *what)
{
	char		 out[8192], sock[HARNESS_PATH_MAX + 16];
	const char	*argv[32];
	size_t		 n = 0;
	int		 st;

	snprintf(sock, sizeof sock, "%s/startup.sock", H.h_dir);
	argv[n++] = harness_forkd_bin();
	argv[n++] = "-s";
	argv[n++] = sock;
	argv[n++] = "-k";
	argv[n++] = H.h_key;
	for (size_t i = 0; extra[i] != NULL && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	st = harness_run(argv, out, sizeof out, 10000);
	if (st == -1)
		fail_msg("%s: forkd still running after 10 s; output: %s",
		    what, out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != want)
		fail_msg("%s: status %#x (exit %d), expected exit %d; output: "
		    "%s", what, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1, want,
		    out);
	if (needle != NULL && strstr(out, needle) == NULL)
		fail_msg("%s: output does not mention \"%s\": %s", what, needle,
		    out);
}

/* Start-up errors other than the key. */
static void
test_startup_errors(void **state)
{
	char	longsock[300], conf[HARNESS_PATH_MAX + 16], mod[300],
		needle[HARNESS_PATH_MAX + 32];
	FILE	*f;

	/* A socket path longer than sun_path. */
	snprintf(longsock, sizeof longsock, "%s/%0150d.sock", H.h_dir, 7);
	{
		const char *extra[] = { "-s", longsock, NULL };

		expect_startup(extra, 1, "0000000007.sock",
		    "socket path of 180+ bytes");
	}
	/* A config file with an error on line 3. */
	snprintf(conf, sizeof conf, "%s/bad.conf", H.h_dir);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs("[limits]\nmax_children = 4\nmax_fds = lots\n", f);
	fclose(f);
	snprintf(needle, sizeof needle, "%s:3", conf);
	{
		const char *extra[] = { "-c", conf, NULL };

		expect_startup(extra, 1, needle, "config with a bad line 3");
	}
	/* A config file that does not exist. */
	snprintf(conf, sizeof conf, "%s/missing.conf", H.h_dir);
	{
		const char *extra[] = { "-c", conf, NULL };

		expect_startup(extra, 1, conf, "missing config file");
	}
	/* A module whose init fails (bad option). */
	snprintf(mod, sizeof mod, "%s/bench.so:size_mb=lots",
	    harness_module_dir());
	{
		const char *extra[] = { "-m", mod, NULL };

		expect_startup(extra, 1, "bench", "bench.so:size_mb=lots");
	}
	/* A file that is no module. */
	{
		const char *extra[] = { "-m", H.h_key, NULL };

		expect_startup(extra, 1, H.h_key, "key file as module");
	}
	/* The same module twice. */
	snprintf(mod, sizeof mod, "%s/pi.so", harness_module_dir());
	{
		const char *extra[] = { "-m", mod, "-m", mod, NULL };

		expect_startup(extra, 1, "pi", "pi.so loaded twice");
	}
	/* Bad option values are usage errors. */
	{
		const char *extra[] = { "--socket-mode", "rwx", NULL };

		expect_startup(extra, 2, NULL, "--socket-mode rwx");
	}
}

/* The socket is created with mode 0600. */
static void
test_socket_mode(void **state)
{
	struct stat st;

	assert_int_equal(stat(H.h_sock, &st), 0);
	if (!S_ISSOCK(st.st_mode))
		fail_msg("%s is not a socket (mode %o)", H.h_sock,
		    (unsigned)st.st_mode);
	EXPECT_INT(st.st_mode & 07777, 0600, "mode of the socket file");
}

static void
test_stop(void **state)
{
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	return harness_start(&H, NULL);
}

static int
group_teardown(void **state)
{
	if (H.h_pid > 0)
		harness_stop(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_client_args),
		cmocka_unit_test(test_key_too_open),
		cmocka_unit_test(test_socket_in_use),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_bad_module),
		cmocka_unit_test(test_startup_errors),
		cmocka_unit_test(test_socket_mode),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_keys", tests,
	    group_setup, group_teardown);
}
