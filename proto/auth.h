/* auth.h: authkey loading, handshake proofs and session key derivation.
 *
 * With sn = server nonce, cn = client nonce (AUTH_NONCE_LEN bytes each):
 *   client proof = HMAC-SHA256(authkey, "forkd-v1 client proof" || sn || cn)
 *   server proof = HMAC-SHA256(authkey, "forkd-v1 server proof" || sn || cn)
 *   session key  = HMAC-SHA256(authkey, "forkd-v1 session key"  || sn || cn)
 * The labels are ASCII without a terminating NUL. Changing any of this
 * changes PROTOCOL.md and WIRE_VERSION together.
 */
#ifndef FORKD_AUTH_H
#define FORKD_AUTH_H

#include <stddef.h>

#define AUTH_NONCE_LEN		32
#define AUTH_PROOF_LEN		32
#define AUTH_KEY_MIN		32
#define AUTH_KEY_MAX		4096

#define AUTH_LABEL_CLIENT	"forkd-v1 client proof"
#define AUTH_LABEL_SERVER	"forkd-v1 server proof"
#define AUTH_LABEL_SESSION	"forkd-v1 session key"

enum auth_role {
	AUTH_ROLE_CLIENT,
	AUTH_ROLE_SERVER,
	AUTH_ROLE_MAX
};

/* check_owner bits of auth_key_load(): OWNER (1, as forkd checks its key)
 * is owner and mode, MODE the mode alone (libforkd's forkd_key_check()). */
#define AUTH_KEY_CHECK_OWNER	0x1
#define AUTH_KEY_CHECK_MODE	0x2

/* Read a key file into sodium_malloc'd, read-only memory. check_owner: 1
 * (AUTH_KEY_CHECK_OWNER): the file must be owned by the caller's euid and
 * neither group/world-writable nor world-readable (as for a daemon);
 * AUTH_KEY_CHECK_MODE: only the latter. On error a reason is written to
 * errbuf. Returns 0 or -errno (-EPERM for bad permissions, -EINVAL for a
 * short or long key). */
int	auth_key_load(const char *path, int check_owner, unsigned char **ret_key,
	    size_t *ret_len, char *errbuf, size_t errlen);
/* Wipe and free a key from auth_key_load(). NULL is fine. */
void	auth_key_free(unsigned char *key, size_t len);

/* Write a new key of len random bytes to path with mode 0600, refusing to
 * overwrite an existing file. Returns 0 or -errno. */
int	auth_key_generate(const char *path, size_t len);

void	auth_nonce(unsigned char nonce[AUTH_NONCE_LEN]);
void	auth_proof(const unsigned char *key, size_t keylen, enum auth_role,
	    const unsigned char *sn, const unsigned char *cn,
	    unsigned char out[AUTH_PROOF_LEN]);
/* Constant-time check of a peer's proof; 0 when it matches. */
int	auth_proof_verify(const unsigned char *key, size_t keylen,
	    enum auth_role, const unsigned char *sn, const unsigned char *cn,
	    const unsigned char *proof, size_t prooflen);
void	auth_session_key(const unsigned char *key, size_t keylen,
	    const unsigned char *sn, const unsigned char *cn,
	    unsigned char out[32]);

#endif
