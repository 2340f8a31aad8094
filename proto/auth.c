/* auth.c: authkey files, handshake proofs and session keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"

/* HMAC-SHA256(key, label || sn || cn). */
static void
auth_hmac(const unsigned char *key, size_t keylen, const char *label,
    const unsigned char *sn, const unsigned char *cn, unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)label,
	    strlen(label));
	crypto_auth_hmacsha256_update(&st, sn, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, cn, AUTH_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* Fill a nonce from the system CSPRNG. */
void
auth_nonce(unsigned char nonce[AUTH_NONCE_LEN])
{
	randombytes_buf(nonce, AUTH_NONCE_LEN);
}

/* Proof of key possession for one side. */
void
auth_proof(const unsigned char *key, size_t keylen, enum auth_role role,
    const unsigned char *sn, const unsigned char *cn,
    unsigned char out[AUTH_PROOF_LEN])
{
	auth_hmac(key, keylen, role == AUTH_ROLE_SERVER ? AUTH_LABEL_SERVER :
	    AUTH_LABEL_CLIENT, sn, cn, out);
}

/* Compare a received proof in constant time. */
int
auth_proof_verify(const unsigned char *key, size_t keylen, enum auth_role role,
    const unsigned char *sn, const unsigned char *cn,
    const unsigned char *proof, size_t prooflen)
{
	unsigned char	want[AUTH_PROOF_LEN];
	int		r;

	if (proof == NULL || prooflen != AUTH_PROOF_LEN)
		return -EKEYREJECTED;
	auth_proof(key, keylen, role, sn, cn, want);
	r = crypto_verify_32(want, proof) == 0 ? 0 : -EKEYREJECTED;
	sodium_memzero(want, sizeof want);
	return r;
}

/* Derive the per-session frame key. */
void
auth_session_key(const unsigned char *key, size_t keylen,
    const unsigned char *sn, const unsigned char *cn, unsigned char out[32])
{
	auth_hmac(key, keylen, AUTH_LABEL_SESSION, sn, cn, out);
}

/* "key file PATH: REASON" into errbuf. A path too long to leave room for
 * the reason is cut to its last bytes after "...": the reason is what
 * the user needs, and the end of the path tells which file. */
static void __attribute__((format(printf, 4, 5)))
auth_key_err(char *errbuf, size_t errlen, const char *path, const char *fmt,
    ...)
{
	char	reason[256];
	size_t	plen = strlen(path), rlen, room;
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	rlen = strlen(reason);
	/* "key file ...PATH: REASON" and the NUL */
	room = errlen > rlen + sizeof "key file ...: " ?
	    errlen - rlen - sizeof "key file ...: " : 0;
	if (plen <= room + 3)
		snprintf(errbuf, errlen, "key file %s: %s", path, reason);
	else
		snprintf(errbuf, errlen, "key file ...%s: %s",
		    path + plen - room, reason);
}

/* Load and check a key file. */
int
auth_key_load(const char *path, int check_owner, unsigned char **ret_key,
    size_t *ret_len, char *errbuf, size_t errlen)
{
	struct stat	 st;
	unsigned char	*key = NULL;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, r;

	/* O_NONBLOCK: opening a FIFO must not hang; fstat() refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		auth_key_err(errbuf, errlen, path, "%s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		auth_key_err(errbuf, errlen, path, "%s", strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		auth_key_err(errbuf, errlen, path, "not a regular file");
		goto out;
	}
	if (check_owner & AUTH_KEY_CHECK_OWNER) {
		if (st.st_uid != geteuid()) {
			r = -EPERM;
			auth_key_err(errbuf, errlen, path, "owned by uid %u, "
			    "not by uid %u that runs forkd",
			    (unsigned)st.st_uid, (unsigned)geteuid());
			goto out;
		}
	}
	if (check_owner & (AUTH_KEY_CHECK_OWNER | AUTH_KEY_CHECK_MODE)) {
		if (st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH)) {
			r = -EPERM;
			auth_key_err(errbuf, errlen, path, "permissions %04o "
			    "are too open (group/world-writable or "
			    "world-readable); chmod it to 600",
			    (unsigned)(st.st_mode & 07777));
			goto out;
		}
	}
	if (st.st_size < AUTH_KEY_MIN || st.st_size >= AUTH_KEY_MAX) {
		r = -EINVAL;
		auth_key_err(errbuf, errlen, path, "%lld bytes; a key must "
		    "be %d to %d bytes (make one with 'forkctl keygen')",
		    (long long)st.st_size, AUTH_KEY_MIN, AUTH_KEY_MAX - 1);
		goto out;
	}
	key = sodium_malloc(AUTH_KEY_MAX);
	if (key == NULL) {
		r = -ENOMEM;
		auth_key_err(errbuf, errlen, path, "out of secure memory");
		goto out;
	}
	while (got < AUTH_KEY_MAX) {
		n = read(fd, key + got, AUTH_KEY_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			auth_key_err(errbuf, errlen, path, "%s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < AUTH_KEY_MIN || got >= AUTH_KEY_MAX) {
		r = -EINVAL;
		auth_key_err(errbuf, errlen, path, "%zu bytes; a key must be "
		    "%d to %d bytes", got, AUTH_KEY_MIN, AUTH_KEY_MAX - 1);
		goto out;
	}
	sodium_mprotect_readonly(key);
	*ret_key = key;
	*ret_len = got;
	key = NULL;
	r = 0;
out:
	if (key != NULL)
		sodium_free(key);
	close(fd);
	return r;
}

/* Free a key from auth_key_load(); sodium_free wipes it. */
void
auth_key_free(unsigned char *key, size_t len)
{
	(void)len;
	if (key != NULL)
		sodium_free(key);
}

/* Create a new random key file, mode 0600, never overwriting. */
int
auth_key_generate(const char *path, size_t len)
{
	unsigned char	buf[AUTH_KEY_MAX];
	size_t		off = 0;
	ssize_t		n;
	int		fd, r = 0;

	if (len < AUTH_KEY_MIN || len >= AUTH_KEY_MAX)
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd < 0)
		return -errno;
	randombytes_buf(buf, len);
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	sodium_memzero(buf, sizeof buf);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r != 0)
		unlink(path);
	return r;
}
