/* fuzz_wire.c: libFuzzer target for the frame layer (proto/wire.c).
 *
 * Each input is used three ways:
 *  1. as a received handshake frame: wire_open(NULL, ...);
 *  2. as a received sealed frame, on the server side (C->S) and on the
 *     client side (S->C), under the session key of PROTOCOL.md section 10
 *     and expecting seq 1, then the frame's own seq: the worked example's
 *     frames 4, 5 and 6 (in the seed corpus) open, mutations of them
 *     reach every check of section 2.1;
 *  3. as a payload: wire_seal() it (handshake and sealed) and wire_open()
 *     the result, which must give back the same payload exactly once; the
 *     same frame replayed, reflected, tampered or truncated must be refused.
 * A broken property abort()s, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_check.h"
#include "wire.h"

/* PROTOCOL.md section 10: session_key for authkey 00..1f, sn 20..3f,
 * cn 40..5f. */
static const unsigned char fuzz_key[WIRE_KEY_LEN] = {
	0x60, 0x2b, 0x21, 0xc0, 0xec, 0x5c, 0x4c, 0x58,
	0x11, 0x31, 0x7a, 0x1e, 0x97, 0x4f, 0x4a, 0xf3,
	0x54, 0x66, 0x06, 0xa4, 0xa6, 0x17, 0x57, 0x78,
	0x40, 0x48, 0x3e, 0xed, 0x6c, 0x7c, 0x6a, 0x9a,
};

static unsigned char	fuzz_out[WIRE_FRAME_HARD_MAX + WIRE_OVERHEAD];

/* The codes wire_open() is documented to return. */
static int
fuzz_known_code(int r)
{
	return r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT ||
	    r == -EMSGSIZE || r == -EKEYREJECTED || r == -EPROTO;
}

/* Open frame as received with mac (NULL: handshake) and check what any
 * successful open promises. */
static int
fuzz_open(struct wire_mac *mac, const uint8_t *frame, size_t len,
    size_t max_frame)
{
	const unsigned char	*payload = NULL;
	size_t			 plen = 0;
	uint64_t		 seq0 = mac ? mac->recv_seq : 0;
	int			 r;

	r = wire_open(mac, frame, len, max_frame, &payload, &plen);
	CHECK(fuzz_known_code(r), "wire_open returned %d", r);
	CHECK(wire_strerror(r) != NULL, "no message for %d", r);
	if (r != 0) {
		/* The receive sequence advances only on success. */
		CHECK(mac == NULL || mac->recv_seq == seq0,
		    "recv_seq moved on error %d", r);
		return r;
	}
	CHECK(len <= max_frame, "accepted %zu bytes over max %zu", len,
	    max_frame);
	CHECK(payload == frame + WIRE_HDR_LEN, "payload not after header");
	CHECK(WIRE_HDR_LEN + plen + (mac ? WIRE_MAC_LEN : 0) == len,
	    "payload length %zu does not fill frame of %zu", plen, len);
	CHECK(mac == NULL || mac->recv_seq == seq0 + 1,
	    "recv_seq %llu after %llu", (unsigned long long)mac->recv_seq,
	    (unsigned long long)seq0);
	/* Touch every payload byte: ASan checks it lies inside frame. */
	{
		volatile unsigned char sum = 0;

		for (size_t i = 0; i < plen; i++)
			sum ^= payload[i];
		(void)sum;
	}
	return 0;
}

/* Received frames: handshake mode, then sealed on both sides. */
static void
fuzz_received(const uint8_t *data, size_t size)
{
	struct wire_mac	mac;
	uint64_t	seq;

	fuzz_open(NULL, data, size, WIRE_FRAME_DEFAULT_MAX);
	fuzz_open(NULL, data, size, 1024);	/* config's smallest */
	for (int is_server = 0; is_server <= 1; is_server++) {
		wire_mac_init(&mac, fuzz_key, is_server);
		fuzz_open(&mac, data, size, WIRE_FRAME_HARD_MAX);
		if (size < WIRE_HDR_LEN)
			continue;
		/* Expect exactly the frame's seq, so a valid MAC opens. */
		seq = 0;
		for (int i = 8; i < 16; i++)
			seq = seq << 8 | data[i];
		if (seq == 0)	/* sealed frames start at 1 */
			continue;
		wire_mac_init(&mac, fuzz_key, is_server);
		mac.recv_seq = seq - 1;
		if (fuzz_open(&mac, data, size, WIRE_FRAME_HARD_MAX) == 0)
			/* The same frame again is a replay. */
			CHECK(fuzz_open(&mac, data, size,
			    WIRE_FRAME_HARD_MAX) == -EPROTO,
			    "replayed frame not refused");
	}
}

/* Seal data as a payload and open it again. */
static void
fuzz_round_trip(const uint8_t *data, size_t size)
{
	struct wire_mac	 client, server, wrong;
	const unsigned char *payload;
	size_t		 flen, plen;
	int		 r;

	if (size > WIRE_FRAME_HARD_MAX)
		return;

	/* Handshake frame. */
	r = wire_seal(NULL, data, size, fuzz_out, sizeof fuzz_out, &flen);
	CHECK(r == 0 && flen == WIRE_HDR_LEN + size, "seal: %d", r);
	r = wire_open(NULL, fuzz_out, flen, WIRE_FRAME_HARD_MAX, &payload,
	    &plen);
	CHECK(r == 0 && plen == size && memcmp(payload, data, size) == 0,
	    "handshake round trip: %d", r);
	/* Too small an output buffer is refused, not overrun. */
	r = wire_seal(NULL, data, size, fuzz_out, flen - 1, &flen);
	CHECK(r == -EMSGSIZE, "short buffer: %d", r);

	/* Sealed frame, client to server, at a seq taken from the input. */
	wire_mac_init(&client, fuzz_key, 0);
	wire_mac_init(&server, fuzz_key, 1);
	if (size >= 4) {
		client.send_seq = (uint64_t)data[0] << 16 | data[1] << 8 |
		    data[2];
		server.recv_seq = client.send_seq;
	}
	r = wire_seal(&client, data, size, fuzz_out, sizeof fuzz_out, &flen);
	CHECK(r == 0 && flen == WIRE_OVERHEAD + size, "seal mac: %d", r);
	CHECK(client.send_seq == server.recv_seq + 1, "send_seq not used");
	r = fuzz_open(&server, fuzz_out, flen, WIRE_FRAME_HARD_MAX);
	CHECK(r == 0, "sealed round trip: %d", r);
	CHECK(memcmp(fuzz_out + WIRE_HDR_LEN, data, size) == 0,
	    "payload changed");
	/* Replay. */
	r = fuzz_open(&server, fuzz_out, flen, WIRE_FRAME_HARD_MAX);
	CHECK(r == -EPROTO, "replay: %d", r);
	/* Reflection: the client does not accept its own frame. */
	wire_mac_init(&wrong, fuzz_key, 0);
	wrong.recv_seq = server.recv_seq - 1;
	r = fuzz_open(&wrong, fuzz_out, flen, WIRE_FRAME_HARD_MAX);
	CHECK(r == -EKEYREJECTED, "reflection: %d", r);
	/* Another session's key. */
	{
		unsigned char other[WIRE_KEY_LEN];

		memcpy(other, fuzz_key, sizeof other);
		other[size % sizeof other] ^= 0x01;
		wire_mac_init(&wrong, other, 1);
		wrong.recv_seq = server.recv_seq - 1;
		r = fuzz_open(&wrong, fuzz_out, flen, WIRE_FRAME_HARD_MAX);
		CHECK(r == -EKEYREJECTED, "other key: %d", r);
	}
	/* Truncated by one byte. */
	server.recv_seq--;
	r = fuzz_open(&server, fuzz_out, flen - 1, WIRE_FRAME_HARD_MAX);
	CHECK(r == -EBADMSG, "truncated: %d", r);
	/* One payload or MAC bit flipped. */
	{
		size_t pos = WIRE_HDR_LEN + (size > 0 ? data[size - 1] *
		    (size + WIRE_MAC_LEN) / 256 : 0);

		fuzz_out[pos] ^= 0x80;
		r = fuzz_open(&server, fuzz_out, flen, WIRE_FRAME_HARD_MAX);
		CHECK(r == -EKEYREJECTED, "tampered byte %zu: %d", pos, r);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_received(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
