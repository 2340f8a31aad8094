/* test_auth.c: handshake proofs, session keys and key files
 * (proto/auth.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sodium.h>

#include "auth.h"

static unsigned char	key[32], key2[32], sn[AUTH_NONCE_LEN],
			cn[AUTH_NONCE_LEN];
static char		tmpdir[] = "/tmp/forkd-test-auth.XXXXXX";

/* Expect an exact return code, saying what came back. */
#define EXPECT_RC(got, want, what) do {					\
	int g_ = (got), w_ = (want);					\
	if (g_ != w_)							\
		fail_msg("%s: returned %d (%s), expected %d (%s)",	\
		    (what), g_, g_ < 0 ? strerror(-g_) : "ok", w_,	\
		    w_ < 0 ? strerror(-w_) : "ok");			\
} while (0)

/* The message must contain needle. */
#define EXPECT_MSG(msg, needle, what) do {				\
	if (strstr((msg), (needle)) == NULL)				\
		fail_msg("%s: message \"%s\" does not mention \"%s\"",	\
		    (what), (msg), (needle));				\
} while (0)

static int
setup(void **state)
{
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(key, sizeof key);
	/* HMAC pads its key with zero bytes: a key ending in 0 is the same
	 * key as itself one byte shorter. With a random last byte the "key
	 * one byte shorter" check below failed one run in 256. */
	key[sizeof key - 1] |= 1;
	randombytes_buf(key2, sizeof key2);
	randombytes_buf(sn, sizeof sn);
	randombytes_buf(cn, sizeof cn);
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write a file of len bytes with mode; returns its path (static buffer). */
static const char *
mkfile(const char *name, size_t len, mode_t mode)
{
	static char	 path[256];
	unsigned char	*buf = malloc(len + 1);
	int		 fd;

	assert_non_null(buf);
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	unlink(path);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
	free(buf);
	return path;
}

/* Client and server proofs differ; each verifies only in its role. */
static void
test_proof_roles(void **state)
{
	unsigned char pc[AUTH_PROOF_LEN], ps[AUTH_PROOF_LEN], again[AUTH_PROOF_LEN];

	auth_proof(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn, pc);
	auth_proof(key, sizeof key, AUTH_ROLE_SERVER, sn, cn, ps);
	if (memcmp(pc, ps, AUTH_PROOF_LEN) == 0)
		fail_msg("client and server proofs are equal");
	auth_proof(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn, again);
	assert_memory_equal(pc, again, AUTH_PROOF_LEN);

	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    pc, sizeof pc), 0, "client proof as client");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_SERVER, sn, cn,
	    ps, sizeof ps), 0, "server proof as server");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_SERVER, sn, cn,
	    pc, sizeof pc), -EKEYREJECTED, "client proof as server proof");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    ps, sizeof ps), -EKEYREJECTED, "server proof as client proof");
}

/* Wrong key, nonces, length. */
static void
test_proof_verify_rejects(void **state)
{
	unsigned char	p[AUTH_PROOF_LEN + 1], sn2[AUTH_NONCE_LEN],
			cn2[AUTH_NONCE_LEN];

	auth_proof(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn, p);
	p[AUTH_PROOF_LEN] = 0;
	memcpy(sn2, sn, sizeof sn2);
	sn2[5] ^= 1;
	memcpy(cn2, cn, sizeof cn2);
	cn2[AUTH_NONCE_LEN - 1] ^= 0x80;

	EXPECT_RC(auth_proof_verify(key2, sizeof key2, AUTH_ROLE_CLIENT, sn, cn,
	    p, AUTH_PROOF_LEN), -EKEYREJECTED, "wrong key");
	EXPECT_RC(auth_proof_verify(key, sizeof key - 1, AUTH_ROLE_CLIENT, sn,
	    cn, p, AUTH_PROOF_LEN), -EKEYREJECTED, "key one byte shorter");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn2, cn,
	    p, AUTH_PROOF_LEN), -EKEYREJECTED, "wrong server nonce");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn2,
	    p, AUTH_PROOF_LEN), -EKEYREJECTED, "wrong client nonce");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, cn, sn,
	    p, AUTH_PROOF_LEN), -EKEYREJECTED, "nonces swapped");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    p, AUTH_PROOF_LEN - 1), -EKEYREJECTED, "proof of 31 bytes");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    p, AUTH_PROOF_LEN + 1), -EKEYREJECTED, "proof of 33 bytes");
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    NULL, 0), -EKEYREJECTED, "no proof");
	for (int i = 0; i < AUTH_PROOF_LEN; i++) {
		p[i] ^= 1;
		if (auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
		    p, AUTH_PROOF_LEN) == 0)
			fail_msg("proof with byte %d changed verified", i);
		p[i] ^= 1;
	}
	EXPECT_RC(auth_proof_verify(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn,
	    p, AUTH_PROOF_LEN), 0, "the right proof after all that");
}

/* The session key depends on the key and both nonces, in order. */
static void
test_session_key(void **state)
{
	unsigned char	k[32], k2[32], sn2[AUTH_NONCE_LEN],
			cn2[AUTH_NONCE_LEN], p[AUTH_PROOF_LEN];

	auth_session_key(key, sizeof key, sn, cn, k);
	auth_session_key(key, sizeof key, sn, cn, k2);
	assert_memory_equal(k, k2, 32);

	memcpy(sn2, sn, sizeof sn2);
	sn2[0] ^= 1;
	auth_session_key(key, sizeof key, sn2, cn, k2);
	if (memcmp(k, k2, 32) == 0)
		fail_msg("session key unchanged by a different server nonce");
	memcpy(cn2, cn, sizeof cn2);
	cn2[31] ^= 1;
	auth_session_key(key, sizeof key, sn, cn2, k2);
	if (memcmp(k, k2, 32) == 0)
		fail_msg("session key unchanged by a different client nonce");
	auth_session_key(key, sizeof key, cn, sn, k2);
	if (memcmp(k, k2, 32) == 0)
		fail_msg("session key unchanged by swapping the nonces");
	auth_session_key(key2, sizeof key2, sn, cn, k2);
	if (memcmp(k, k2, 32) == 0)
		fail_msg("session key unchanged by a different authkey");
	/* Not equal to either proof (distinct labels). */
	auth_proof(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn, p);
	assert_memory_not_equal(k, p, 32);
	auth_proof(key, sizeof key, AUTH_ROLE_SERVER, sn, cn, p);
	assert_memory_not_equal(k, p, 32);
}

/* Matches the construction documented in auth.h. */
static void
test_documented_construction(void **state)
{
	unsigned char	 msg[64 + AUTH_NONCE_LEN * 2], want[32], got[32];
	size_t		 l = strlen(AUTH_LABEL_SESSION);

	memcpy(msg, AUTH_LABEL_SESSION, l);
	memcpy(msg + l, sn, AUTH_NONCE_LEN);
	memcpy(msg + l + AUTH_NONCE_LEN, cn, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, sizeof key);
	crypto_auth_hmacsha256_update(&st, msg, l + 2 * AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, want);
	auth_session_key(key, sizeof key, sn, cn, got);
	assert_memory_equal(want, got, 32);

	l = strlen(AUTH_LABEL_CLIENT);
	memcpy(msg, AUTH_LABEL_CLIENT, l);
	memcpy(msg + l, sn, AUTH_NONCE_LEN);
	memcpy(msg + l + AUTH_NONCE_LEN, cn, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_init(&st, key, sizeof key);
	crypto_auth_hmacsha256_update(&st, msg, l + 2 * AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, want);
	auth_proof(key, sizeof key, AUTH_ROLE_CLIENT, sn, cn, got);
	assert_memory_equal(want, got, 32);
}

/* Nonces are random. */
static void
test_nonce(void **state)
{
	unsigned char a[AUTH_NONCE_LEN], b[AUTH_NONCE_LEN];

	auth_nonce(a);
	auth_nonce(b);
	assert_memory_not_equal(a, b, AUTH_NONCE_LEN);
}

/* Load a key file expecting failure with code want and a message
 * mentioning each of the needles. */
static void
expect_load_fail(const char *path, int check_owner, int want,
    const char *what, const char *n1, const char *n2)
{
	unsigned char	*k = (unsigned char *)"untouched";
	size_t		 kl = 12345;
	char		 err[512] = "";
	int		 r;

	r = auth_key_load(path, check_owner, &k, &kl, err, sizeof err);
	EXPECT_RC(r, want, what);
	if (k != (unsigned char *)"untouched" || kl != 12345)
		fail_msg("%s: out-parameters touched on failure", what);
	EXPECT_MSG(err, path, what);
	if (n1 != NULL)
		EXPECT_MSG(err, n1, what);
	if (n2 != NULL)
		EXPECT_MSG(err, n2, what);
}

/* Load a key file expecting success with len bytes. */
static void
expect_load_ok(const char *path, int check_owner, size_t len,
    const char *what)
{
	unsigned char	*k = NULL;
	size_t		 kl = 0;
	char		 err[512] = "";
	int		 r;

	r = auth_key_load(path, check_owner, &k, &kl, err, sizeof err);
	if (r != 0)
		fail_msg("%s: returned %d (%s): %s", what, r, strerror(-r),
		    err);
	assert_non_null(k);
	if (kl != len)
		fail_msg("%s: key of %zu bytes, expected %zu", what, kl, len);
	for (size_t i = 0; i < len; i++)
		if (k[i] != (unsigned char)(i * 7 + 1))
			fail_msg("%s: key byte %zu differs from the file", what,
			    i);
	auth_key_free(k, kl);
}

/* Permissions, sizes, file types. */
static void
test_key_load(void **state)
{
	const char	*p;
	char		 path[256];

	p = mkfile("k0600", 32, 0600);
	expect_load_ok(p, 1, 32, "0600 key, 32 bytes");
	p = mkfile("k0640", 32, 0640);
	expect_load_ok(p, 1, 32, "0640 key");
	p = mkfile("k0400", 64, 0400);
	expect_load_ok(p, 1, 64, "0400 key, 64 bytes");
	p = mkfile("kbig", 4095, 0600);
	expect_load_ok(p, 1, 4095, "key of 4095 bytes");

	p = mkfile("k0644", 32, 0644);
	expect_load_fail(p, 1, -EPERM, "world-readable 0644 key", "0644",
	    "too open");
	/* A client reading its key does not check the mode. */
	expect_load_ok(p, 0, 32, "0644 key without owner/mode check");
	p = mkfile("k0620", 32, 0620);
	expect_load_fail(p, 1, -EPERM, "group-writable 0620 key", "0620",
	    "too open");
	p = mkfile("k0602", 32, 0602);
	expect_load_fail(p, 1, -EPERM, "world-writable 0602 key", "0602",
	    "too open");

	p = mkfile("k31", 31, 0600);
	expect_load_fail(p, 1, -EINVAL, "31-byte key", "31 bytes", NULL);
	expect_load_fail(p, 0, -EINVAL, "31-byte key (client)", "31 bytes",
	    NULL);
	p = mkfile("k0", 0, 0600);
	expect_load_fail(p, 1, -EINVAL, "empty key", "0 bytes", NULL);
	p = mkfile("k4097", AUTH_KEY_MAX + 1, 0600);
	expect_load_fail(p, 1, -EINVAL, "key of AUTH_KEY_MAX+1 bytes",
	    "4097 bytes", NULL);
	p = mkfile("khuge", 1 << 20, 0600);
	expect_load_fail(p, 1, -EINVAL, "1 MiB key", "bytes", NULL);

	snprintf(path, sizeof path, "%s/adir", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_load_fail(path, 1, -EINVAL, "directory as key",
	    "not a regular file", NULL);
	expect_load_fail("/dev/null", 0, -EINVAL, "/dev/null as key",
	    "not a regular file", NULL);

	snprintf(path, sizeof path, "%s/missing", tmpdir);
	expect_load_fail(path, 1, -ENOENT, "missing key file",
	    "No such file", NULL);
}

/* A key path too long for the message keeps the reason and the path's
 * end: "key file ...<end of path>: <reason>". */
static void
test_key_load_long_path(void **state)
{
	char		 path[3100], err[256], *p;
	unsigned char	*k = NULL;
	size_t		 kl = 0, n;
	int		 r;

	n = (size_t)snprintf(path, sizeof path, "/nonexistent-forkd-test");
	while (n < 3000)
		n += (size_t)snprintf(path + n, sizeof path - n, "/d");
	snprintf(path + n, sizeof path - n, "/the-key");
	r = auth_key_load(path, 0, &k, &kl, err, sizeof err);
	EXPECT_RC(r, -ENOENT, "missing key file under a 3000-byte path");
	EXPECT_MSG(err, strerror(ENOENT), "long path");
	EXPECT_MSG(err, "/d/d/the-key: ", "long path");
	if (strncmp(err, "key file ...", 12) != 0)
		fail_msg("long path: message \"%s\" does not start with "
		    "\"key file ...\"", err);
	/* The whole message fits, cut only in the path. */
	p = strstr(err, ": ");
	assert_non_null(p);
	assert_string_equal(p + 2, strerror(ENOENT));
	assert_int_equal(strlen(err), sizeof err - 1);
	/* A short path is not cut. */
	r = auth_key_load("/nonexistent-forkd-test/k", 0, &k, &kl, err,
	    sizeof err);
	EXPECT_RC(r, -ENOENT, "missing key file, short path");
	assert_string_equal(err, "key file /nonexistent-forkd-test/k: "
	    "No such file or directory");
}

/* A FIFO as key file must fail, not block forever. */
static void
test_key_load_fifo(void **state)
{
	char	path[256];
	pid_t	pid;
	int	st;

	snprintf(path, sizeof path, "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned char	*k;
		size_t		 kl;
		char		 err[256];

		alarm(3);
		_exit(auth_key_load(path, 1, &k, &kl, err, sizeof err) ==
		    -EINVAL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		fail_msg("auth_key_load() on a FIFO blocked in open() for 3 s "
		    "(no O_NONBLOCK): a daemon or forkctl pointed at a FIFO "
		    "hangs instead of saying 'not a regular file'");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("auth_key_load() on a FIFO: child status %#x, "
		    "expected -EINVAL", st);
}

/* Root only: a key owned by another uid is refused with check_owner. */
static void
test_key_load_owner(void **state)
{
	const char	*p;

	if (geteuid() != 0)
		skip();
	p = mkfile("kother", 32, 0600);
	assert_int_equal(chown(p, 12345, 12345), 0);
	expect_load_fail(p, 1, -EPERM, "key owned by uid 12345", "12345",
	    "owned by");
}

/* keygen: 0600, right size, random, no overwrite. */
static void
test_key_generate(void **state)
{
	char		 p1[256], p2[256];
	unsigned char	 buf1[64], buf2[64], again[64];
	struct stat	 st;
	mode_t		 old;
	int		 fd;

	snprintf(p1, sizeof p1, "%s/gen1", tmpdir);
	snprintf(p2, sizeof p2, "%s/gen2", tmpdir);
	old = umask(0);		/* the mode must not depend on the umask */
	EXPECT_RC(auth_key_generate(p1, 32), 0, "generate 32 bytes");
	umask(old);
	assert_int_equal(stat(p1, &st), 0);
	if ((st.st_mode & 07777) != 0600)
		fail_msg("generated key has mode %04o, expected 0600",
		    (unsigned)(st.st_mode & 07777));
	assert_int_equal(st.st_size, 32);
	assert_true(S_ISREG(st.st_mode));
	EXPECT_RC(auth_key_generate(p2, 64), 0, "generate 64 bytes");
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_size, 64);

	fd = open(p1, O_RDONLY);
	assert_int_equal(read(fd, buf1, 32), 32);
	close(fd);
	fd = open(p2, O_RDONLY);
	assert_int_equal(read(fd, buf2, 64), 64);
	close(fd);
	assert_memory_not_equal(buf1, buf2, 32);

	/* Refuses to overwrite; the file is unchanged. */
	EXPECT_RC(auth_key_generate(p1, 32), -EEXIST, "generate over a key");
	fd = open(p1, O_RDONLY);
	assert_int_equal(read(fd, again, 64), 32);
	close(fd);
	assert_memory_equal(buf1, again, 32);

	/* Too short: refused and nothing written. */
	snprintf(p2, sizeof p2, "%s/gen-short", tmpdir);
	EXPECT_RC(auth_key_generate(p2, 31), -EINVAL, "generate 31 bytes");
	if (access(p2, F_OK) == 0)
		fail_msg("a refused keygen left %s behind", p2);

	/* What keygen makes, the daemon accepts. */
	{
		unsigned char	*k = NULL;
		size_t		 kl = 0;
		char		 err[256] = "";

		EXPECT_RC(auth_key_load(p1, 1, &k, &kl, err, sizeof err), 0,
		    "load of a generated key");
		assert_int_equal(kl, 32);
		assert_memory_equal(k, buf1, 32);
		auth_key_free(k, kl);
	}
	auth_key_free(NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proof_roles),
		cmocka_unit_test(test_proof_verify_rejects),
		cmocka_unit_test(test_session_key),
		cmocka_unit_test(test_documented_construction),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_key_load_fifo),
		cmocka_unit_test(test_key_load_long_path),
		cmocka_unit_test(test_key_load_owner),
		cmocka_unit_test(test_key_generate),
	};

	return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
