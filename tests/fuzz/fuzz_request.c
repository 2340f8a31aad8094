/* fuzz_request.c: libFuzzer target for authenticated requests
 * (daemon/session.c frame handling, daemon/request.c, the validation in
 * daemon/spawn.c).
 *
 * Each input gets a session on which the target first completes a correct
 * handshake as the client (auth_proof / auth_session_key); then every
 * record's bytes (format in fuzz_session.h) are sealed with the client's
 * wire_mac as the payload of the next frame, so arbitrary payloads pass
 * the MAC and reach protobuf decoding, request_dispatch() and
 * spawn_request()'s checks. A record flagged FUZZ_REC_RAW is sent as it
 * is instead (post-handshake frame checks). Flag byte:
 *   0x01  limits.max_children = 0: spawn fails with EAGAIN early
 *   0x02  limits.max_frame = 1024
 *   0x04  limits.max_argv = 2, max_env = 2, max_fds = 1, max_spawn_rate =
 *         1: the count and rate limits are within reach of short inputs
 *   0x08  a [policy]: allow_targets = pi:* bench:ex*, allow_exec_paths =
 *         /usr/bin/ /bin/true
 *   0x10  policy allow_exec = no, allow_uids = a uid that is not ours
 *   0x20  fake children (fuzz_session.h): a spawn that passes every check
 *         succeeds with a child that never runs; records flagged
 *         FUZZ_REC_EVENT end children, stop the client reading or let
 *         time pass, so waits, signals, lists, exit events, the exit
 *         history and the end of a session with children (daemon children
 *         killed, waits dropped, also from inside a reply that fails) are
 *         reached; limits.pool_max = 0
 * (Settings are made with config_set(), as from a config file; one the
 * daemon does not have is simply not set.)
 *
 * No process is ever started. No module is loaded, so MODULE:ENTRY targets
 * fail with ENOENT; a request that passes every check (an absolute-path
 * target) reaches fork() (or clone()), which fuzz_session.c replaces with
 * stubs that fail with EAGAIN (or, with 0x20, make a fake child), so forkd
 * answers with its fork-failure error; the same stubs keep the process
 * pool from forking, and a kill() stub refuses to signal anything but a
 * fake child. (The
 * max_children limit, which spawn_request() checks before the target is
 * even looked at, would stop every spawn before fork() too, but it would
 * also hide the target, name and fd-target checks that come after it; the
 * 0x01 flag covers that branch.)
 *
 * Checked besides ASan/UBSan/LSan: a sealed payload that decodes as a
 * request keeps the connection open and, without fake children (whose
 * spawns and waits are answered later), gets exactly one Response with its
 * id at once; anything else (undecodable, not a request, an over-large frame,
 * too many fds, a raw frame) gets forkd to close the connection; every
 * frame forkd sends opens under the session key and decodes; error
 * Responses carry a negative code and no body; forkd frees the session
 * once the peer is gone; no descriptor stays open; forkd signals no
 * process but its own (fake) children, and only before reaping them; spawn
 * replies and exit events name only pids forkd got from fork().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "config.h"
#include "forkd.pb-c.h"
#include "fuzz_session.h"
#include "server.h"
#include "wire.h"

#define FLAG_NO_CHILDREN	0x01
#define FLAG_SMALL_FRAME	0x02
#define FLAG_SMALL_COUNTS	0x04
#define FLAG_POLICY		0x08
#define FLAG_STRANGER		0x10
#define FLAG_FAKE_CHILDREN	0x20

static unsigned char	fuzz_frame[WIRE_FRAME_HARD_MAX + WIRE_OVERHEAD];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set "section.key = value" as a config file would. */
static void
fuzz_set(struct config *cfg, const char *section, const char *key,
    const char *value)
{
	char err[512];

	(void)config_set(cfg, section, key, value, err, sizeof err);
}

/* Send one record; returns -1 once the connection is closed. */
static int
fuzz_request_record(struct fuzz_peer *p, const struct fuzz_record *r)
{
	Forkd__ClientMessage	*cm;
	unsigned int		 nfds = r->flags & FUZZ_REC_FDS;
	size_t			 flen;
	uint32_t		 id = 0;
	int			 is_request, must_close;

	if ((r->flags & FUZZ_REC_EVENT) && fuzz_fake_children) {
		fuzz_fake_event(p, r->data, r->len);
		return p->got_error || p->eof ? -1 : 0;
	}
	if (r->flags & FUZZ_REC_RAW)
		return fuzz_session_send(p, r->data, r->len, nfds);

	if (wire_seal(&p->mac, r->data, r->len, fuzz_frame, sizeof fuzz_frame,
	    &flen) != 0)
		fuzz_fail("seal %zu bytes", r->len);
	/* What forkd will make of it: the same decoder, the same input. */
	cm = forkd__client_message__unpack(NULL, r->len, r->data);
	is_request = cm != NULL &&
	    cm->body_case == FORKD__CLIENT_MESSAGE__BODY_REQUEST;
	if (is_request)
		id = cm->request->id;
	if (cm != NULL)
		forkd__client_message__free_unpacked(cm, NULL);
	must_close = !is_request ||
	    flen > server_config_get()->limits.max_frame ||
	    nfds > WIRE_MAX_FDS;

	fuzz_peer_clear(p);
	if (fuzz_session_send(p, fuzz_frame, flen, nfds) != 0 && p->shut_rd)
		return -1;		/* forkd has closed the connection */
	if (fuzz_fake_children)
		fuzz_fake_reap(p);	/* children it signalled */
	if (p->shut_rd)
		return 0;		/* we no longer see its answers */
	if (must_close) {
		if (!p->got_error && !p->eof)
			fuzz_fail("connection still open after a %s",
			    !is_request ? "payload that is not a request" :
			    nfds > WIRE_MAX_FDS ? "frame with too many fds" :
			    "frame over max_frame");
		return -1;
	}
	if (p->got_error || p->eof)
		fuzz_fail("connection closed after request %u", id);
	if (fuzz_fake_children)
		return 0;
	if (p->n_responses != 1 || p->response_ids[0] != id)
		fuzz_fail("request %u: %zu responses (first id %u)", id,
		    p->n_responses, p->n_responses ? p->response_ids[0] : 0);
	return 0;
}

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
	if (flags & FLAG_NO_CHILDREN)
		cfg.limits.max_children = 0;	/* below config's 1 */
	if (flags & FLAG_SMALL_FRAME)
		cfg.limits.max_frame = 1024;
	if (flags & FLAG_SMALL_COUNTS) {
		cfg.limits.max_argv = 2;
		cfg.limits.max_env = 2;
		cfg.limits.max_fds = 1;
		fuzz_set(&cfg, "limits", "max_spawn_rate", "1");
	}
	if (flags & FLAG_POLICY) {
		fuzz_set(&cfg, "policy", "allow_targets", "pi:* bench:ex*");
		fuzz_set(&cfg, "policy", "allow_exec_paths",
		    "/usr/bin/ /bin/true");
	}
	fuzz_fake_children = (flags & FLAG_FAKE_CHILDREN) != 0;
	if (fuzz_fake_children) {
		fuzz_set(&cfg, "limits", "pool_min", "0");
		fuzz_set(&cfg, "limits", "pool_max", "0");
	}
	if (flags & FLAG_STRANGER) {
		char uid[32];

		snprintf(uid, sizeof uid, "%u", (unsigned)getuid() + 1);
		fuzz_set(&cfg, "policy", "allow_exec", "no");
		fuzz_set(&cfg, "policy", "allow_uids", uid);
	}
	server_config_set(&cfg);

	fuzz_session_begin(&p);
	fuzz_session_auth(&p);
	while (fuzz_next_record(&q, &left, &r))
		if (fuzz_request_record(&p, &r) != 0)
			break;
	fuzz_session_end(&p);
	return 0;
}
