/* wire_mac.c: wire_seal() + wire_open() of one frame, the HMAC keyed per
 * frame (wire_mac_init) against keyed once (wire_mac_init_keyed), issue 17.
 *
 *   cc -O2 -D_GNU_SOURCE -Iproto -Ibuild/proto/gen bench/micro/wire_mac.c proto/wire.c \
 *       -lsodium -lprotobuf-c -o /tmp/wire_mac && /tmp/wire_mac [N [LEN]]
 *
 * Prints ns per sealed-and-opened frame for each, best of 5 runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "wire.h"

/* ns per frame over n frames of len bytes; keyed: use a keyed state. */
static double
run(int keyed, long n, size_t len)
{
	static unsigned char	 key[WIRE_KEY_LEN] = "0123456789abcdef0123456789abcde";
	static unsigned char	 st_c[512], st_s[512];
	unsigned char		 payload[4096], frame[4096 + WIRE_OVERHEAD];
	const unsigned char	*p;
	struct wire_mac		 c, s;
	struct timespec		 a, b;
	size_t			 flen, plen;

	memset(payload, 'x', len);
	if (keyed) {
		wire_mac_init_keyed(&c, key, st_c, 0);
		wire_mac_init_keyed(&s, key, st_s, 1);
	} else {
		wire_mac_init(&c, key, 0);
		wire_mac_init(&s, key, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		if (wire_seal(&c, payload, len, frame, sizeof frame, &flen) != 0 ||
		    wire_open(&s, frame, flen, sizeof frame, &p, &plen) != 0)
			abort();
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

int
main(int argc, char **argv)
{
	long	n = argc > 1 ? atol(argv[1]) : 200000;
	size_t	len = argc > 2 ? (size_t)atol(argv[2]) : 200;
	double	best[2] = { 1e18, 1e18 };

	if (sodium_init() < 0 || len > 4096 || wire_mac_keyed_size() > 512)
		return 1;
	for (int r = 0; r < 5; r++)
		for (int k = 0; k < 2; k++) {
			double t = run(k, n, len);

			if (t < best[k])
				best[k] = t;
		}
	printf("frame of %zu bytes, seal+open, best of 5 x %ld: keyed per "
	    "frame %.0f ns, keyed once %.0f ns (%.2fx)\n", len, n, best[0],
	    best[1], best[0] / best[1]);
	return 0;
}
