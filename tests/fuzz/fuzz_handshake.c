/* fuzz_handshake.c: libFuzzer target for a session before authentication
 * (daemon/session.c: Hello, the Auth handler, the frame checks, the
 * handshake state machine).
 *
 * The input (format in fuzz_session.h) is sent datagram by datagram to a
 * fresh session by a peer that does not hold the key. Flag byte:
 *   0x01  first send a valid Auth (computed here for the Hello's nonce), so
 *         the records then hit an authenticated session unsealed
 *   0x02  limits.max_frame = 1024 (the smallest allowed), so oversized
 *         frames are within reach of short inputs
 * Checked besides ASan/UBSan/LSan: forkd never sends AuthOk or a Response
 * to a peer that did not authenticate, every frame it sends opens and
 * decodes, it frees the session once the peer is gone, and every
 * descriptor (including any passed with a datagram) is closed.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fuzz_session.h"
#include "server.h"

#define FLAG_AUTH		0x01
#define FLAG_SMALL_FRAME	0x02

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_peer	 p;
	struct fuzz_record	 r;
	const uint8_t		*q = data + (size > 0);
	size_t			 left = size > 0 ? size - 1 : 0;
	unsigned int		 flags = size > 0 ? data[0] : 0;
	struct config		 cfg;

	fuzz_session_setup();
	config_init(&cfg);	/* fresh limits for every input */
	if (flags & FLAG_SMALL_FRAME)
		cfg.limits.max_frame = 1024;
	server_config_set(&cfg);

	fuzz_session_begin(&p);
	if (flags & FLAG_AUTH)
		fuzz_session_auth(&p);
	while (fuzz_next_record(&q, &left, &r))
		if (fuzz_session_send(&p, r.data, r.len,
		    r.flags & FUZZ_REC_FDS) != 0)
			break;
	fuzz_session_end(&p);
	return 0;
}
