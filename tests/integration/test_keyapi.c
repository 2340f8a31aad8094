/* test_keyapi.c: libforkd's key files and explained connect failures
 * (issue 16 item 9): forkd_key_generate(), forkd_key_check() and
 * forkd_connect_ex()'s struct forkd_error, against a real forkd. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"

static struct harness H;

/* path in the harness's temp dir. */
static void
tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", H.h_dir, name);
}

/* The whole content of a small file, or fail. */
static size_t
read_file(const char *path, unsigned char *buf, size_t cap)
{
	ssize_t	n;
	int	fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		fail_msg("read %s: %s", path, strerror(errno));
	return (size_t)n;
}

#define EXPECT_FERR(call, e, want, wstep) do {				\
	int r_ = (call);						\
	if (r_ != (want) || (e).code != (want) || (e).step != (wstep))	\
		fail_msg("%s: returned %d (%s), error {%d, step %s, "	\
		    "\"%s\"}; expected %d at step %s", #call, r_,	\
		    forkd_strerror(r_), (e).code,			\
		    forkd_step_name((e).step), (e).message, (want),	\
		    forkd_step_name(wstep));				\
} while (0)

/* A new key is 32 bytes, 0600, connects; an existing one is kept unless
 * FORKD_KEY_REPLACE, which replaces only a regular file. */
static void
test_key_generate(void **state)
{
	struct forkd_error	 e;
	struct stat		 st;
	unsigned char		 a[64], b[64];
	char			 p[512], link[512], dir[512];
	struct forkd		*f = NULL;

	tmp_path(p, sizeof p, "gen.key");
	EXPECT_FERR(forkd_key_generate(p, 0, &e), e, 0, FORKD_STEP_NONE);
	assert_int_equal(stat(p, &st), 0);
	EXPECT_INT(st.st_size, FORKD_KEY_BYTES, "size of a new key");
	EXPECT_INT(st.st_mode & 07777, 0600, "mode of a new key");
	EXPECT_INT(read_file(p, a, sizeof a), 32, "bytes read");
	EXPECT_FERR(forkd_key_check(p, FORKD_KEY_CHECK_OWNER, &e), e, 0,
	    FORKD_STEP_NONE);

	/* Not replaced without the flag; the message names the file. */
	EXPECT_FERR(forkd_key_generate(p, 0, &e), e, -EEXIST, FORKD_STEP_KEY);
	EXPECT_CONTAINS(e.message, p, "-EEXIST message");
	EXPECT_STR(e.path, p, "path of -EEXIST");
	read_file(p, b, sizeof b);
	if (memcmp(a, b, 32) != 0)
		fail_msg("a refused forkd_key_generate() changed the key");
	/* Replaced with it. */
	EXPECT_FERR(forkd_key_generate(p, FORKD_KEY_REPLACE, &e), e, 0,
	    FORKD_STEP_NONE);
	read_file(p, b, sizeof b);
	if (memcmp(a, b, 32) == 0)
		fail_msg("FORKD_KEY_REPLACE left the old key");
	assert_int_equal(stat(p, &st), 0);
	EXPECT_INT(st.st_mode & 07777, 0600, "mode of a replaced key");

	/* Never a symbolic link or a FIFO. */
	tmp_path(link, sizeof link, "gen.link");
	assert_int_equal(symlink(p, link), 0);
	EXPECT_FERR(forkd_key_generate(link, FORKD_KEY_REPLACE, &e), e,
	    -EINVAL, FORKD_STEP_KEY);
	EXPECT_CONTAINS(e.message, "not a regular file", "symlink message");
	assert_int_equal(lstat(link, &st), 0);
	if (!S_ISLNK(st.st_mode))
		fail_msg("the symbolic link was replaced");
	unlink(link);
	EXPECT_FERR(forkd_key_generate("/dev/null", FORKD_KEY_REPLACE, &e),
	    e, -EINVAL, FORKD_STEP_KEY);

	/* A missing directory is named as such. */
	tmp_path(dir, sizeof dir, "nodir/k");
	EXPECT_FERR(forkd_key_generate(dir, 0, &e), e, -ENOENT,
	    FORKD_STEP_KEY);
	EXPECT_CONTAINS(e.message, "does not exist; create it first",
	    "missing directory message");
	EXPECT_FERR(forkd_key_generate(p, 0x80, &e), e, -EINVAL,
	    FORKD_STEP_NONE);

	/* A fresh key is not forkd's: the handshake step says so. */
	EXPECT_FERR(forkd_connect_ex(&f, H.h_sock, p, &e), e, -EKEYREJECTED,
	    FORKD_STEP_HANDSHAKE);
	assert_null(f);
}

/* forkd_key_check() applies forkd's own rules with the flags. */
static void
test_key_check(void **state)
{
	struct forkd_error	e;
	char			p[512];
	int			fd;

	tmp_path(p, sizeof p, "check.key");
	EXPECT_FERR(forkd_key_generate(p, 0, &e), e, 0, FORKD_STEP_NONE);
	assert_int_equal(chmod(p, 0644), 0);
	/* Readable: a client may use it. */
	EXPECT_FERR(forkd_key_check(p, 0, &e), e, 0, FORKD_STEP_NONE);
	/* forkd would refuse it, and says so in its own words. */
	EXPECT_FERR(forkd_key_check(p, FORKD_KEY_CHECK_MODE, &e), e, -EPERM,
	    FORKD_STEP_KEY);
	EXPECT_CONTAINS(e.message, "permissions 0644 are too open",
	    "mode message");
	EXPECT_CONTAINS(e.message, p, "mode message names the file");
	EXPECT_FERR(forkd_key_check(p, FORKD_KEY_CHECK_OWNER, &e), e, -EPERM,
	    FORKD_STEP_KEY);
	assert_int_equal(chmod(p, 0640), 0);
	EXPECT_FERR(forkd_key_check(p, FORKD_KEY_CHECK_MODE, &e), e, 0,
	    FORKD_STEP_NONE);

	/* Too short. */
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	EXPECT_FERR(forkd_key_check(p, 0, &e), e, -EINVAL, FORKD_STEP_KEY);
	EXPECT_CONTAINS(e.message, "5 bytes", "short key message");
	unlink(p);
	EXPECT_FERR(forkd_key_check(p, 0, &e), e, -ENOENT, FORKD_STEP_KEY);
	EXPECT_STR(e.path, p, "path of a missing key");
	/* NULL: $FORKD_KEY_FILE. */
	setenv(FORKD_ENV_KEY_FILE, H.h_key, 1);
	EXPECT_FERR(forkd_key_check(NULL, FORKD_KEY_CHECK_OWNER, &e), e, 0,
	    FORKD_STEP_NONE);
	unsetenv(FORKD_ENV_KEY_FILE);
}

/* forkd_connect_ex() names the step and the file of each failure. */
static void
test_connect_ex(void **state)
{
	struct forkd_error	 e;
	struct forkd		*f = NULL;
	char			 p[512], wrong[512];
	int			 fd;

	/* No key file. */
	tmp_path(p, sizeof p, "absent.key");
	EXPECT_FERR(forkd_connect_ex(&f, H.h_sock, p, &e), e, -ENOENT,
	    FORKD_STEP_KEY);
	EXPECT_STR(e.path, p, "path of the missing key");
	EXPECT_CONTAINS(e.message, "key file", "missing key message");
	/* No socket: the key was fine, so it is the connect step. */
	tmp_path(p, sizeof p, "absent.sock");
	EXPECT_FERR(forkd_connect_ex(&f, p, H.h_key, &e), e, -ENOENT,
	    FORKD_STEP_CONNECT);
	EXPECT_STR(e.path, p, "path of the missing socket");
	EXPECT_CONTAINS(e.message, "is forkd running?", "no socket message");
	/* A regular file is not a socket. */
	tmp_path(p, sizeof p, "plain");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	EXPECT_FERR(forkd_connect_ex(&f, p, H.h_key, &e), e, -ENOTSOCK,
	    FORKD_STEP_SOCKET);
	EXPECT_CONTAINS(e.message, "not a socket", "not a socket message");
	/* A socket path too long for sun_path. */
	{
		char	longp[200];

		memset(longp, 'a', sizeof longp - 1);
		longp[0] = '/';
		longp[sizeof longp - 1] = '\0';
		EXPECT_FERR(forkd_connect_ex(&f, longp, H.h_key, &e), e,
		    -ENAMETOOLONG, FORKD_STEP_SOCKET);
		EXPECT_CONTAINS(e.message, "must be shorter than 108",
		    "long path message");
	}
	/* A wrong key: the handshake, naming the key file. */
	tmp_path(wrong, sizeof wrong, "wrong.key");
	EXPECT_FERR(forkd_key_generate(wrong, 0, &e), e, 0, FORKD_STEP_NONE);
	EXPECT_FERR(forkd_connect_ex(&f, H.h_sock, wrong, &e), e,
	    -EKEYREJECTED, FORKD_STEP_HANDSHAKE);
	EXPECT_CONTAINS(e.message, wrong, "wrong key message");
	EXPECT_CONTAINS(e.message, "is not forkd's key", "wrong key message");
	assert_null(f);
	/* Success clears the error and gives a working handle. */
	EXPECT_FERR(forkd_connect_ex(&f, H.h_sock, H.h_key, &e), e, 0,
	    FORKD_STEP_NONE);
	EXPECT_STR(e.message, "", "message after success");
	assert_non_null(f);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	f = NULL;
	/* A NULL error pointer is fine. */
	assert_int_equal(forkd_connect_ex(&f, p, H.h_key, NULL), -ENOTSOCK);
	EXPECT_STR(forkd_step_name(FORKD_STEP_HANDSHAKE), "handshake",
	    "step name");
	EXPECT_STR(forkd_step_name(99), "?", "unknown step name");
}

HARNESS_STANDARD_GROUP(H)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_generate),
		cmocka_unit_test(test_key_check),
		cmocka_unit_test(test_connect_ex),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_keyapi", tests,
	    group_setup, group_teardown);
}
