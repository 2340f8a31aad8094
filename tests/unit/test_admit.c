/* test_admit.c: which connection admit.c lets in and whose handshake it
 * evicts for it (max_handshakes_per_uid, max_connections), and the
 * per-uid table (uidtab.c) it and quota.c and history.c keep records in. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "admit.h"
#include "config.h"
#include "uidtab.h"

/* The evictions asked for, in order; each closes one handshake of the
 * uid, as session.c's does, unless the uid has none. */
static uid_t	evicted[16];
static size_t	n_evicted;

static int
fake_evict(uid_t uid, const char *why)
{
	assert_non_null(why);
	if (admit_handshakes(uid) == 0)
		return -ENOENT;
	assert_true(n_evicted < sizeof evicted / sizeof evicted[0]);
	evicted[n_evicted++] = uid;
	admit_count(uid, 0, -1);
	return 0;
}

/* Fresh records and limits before each test. */
static int
setup(void **state)
{
	static struct config_limits lim;

	admit_free_all();
	n_evicted = 0;
	memset(&lim, 0, sizeof lim);
	lim.max_connections = 4;
	lim.max_handshakes_per_uid = 3;
	*state = &lim;
	return 0;
}

/* Count a connection of uid in: what session_create() does once admitted. */
static void
connect_uid(const struct config_limits *lim, uid_t uid, int authed)
{
	assert_int_equal(admit_connection(uid, lim, fake_evict), 0);
	admit_count(uid, 0, 1);
	if (authed) {
		admit_count(uid, 0, -1);
		admit_count(uid, 1, 1);
	}
}

static void
test_room_no_eviction(void **state)
{
	const struct config_limits *lim = *state;

	connect_uid(lim, 1000, 0);
	connect_uid(lim, 1000, 1);
	connect_uid(lim, 1001, 0);
	assert_int_equal(n_evicted, 0);
	assert_int_equal(admit_handshakes(1000), 1);
	assert_int_equal(admit_authed(1000), 1);
	assert_int_equal(admit_handshakes(1001), 1);
	assert_int_equal(admit_authed(1002), 0);
}

static void
test_own_handshake_evicted_at_cap(void **state)
{
	const struct config_limits *lim = *state;

	connect_uid(lim, 1001, 1);	/* another uid's, never touched */
	connect_uid(lim, 1000, 0);
	connect_uid(lim, 1000, 0);
	connect_uid(lim, 1000, 0);
	assert_int_equal(n_evicted, 0);
	/* The fourth handshake of 1000: one of its own goes. */
	assert_int_equal(admit_connection(1000, lim, fake_evict), 0);
	assert_int_equal(n_evicted, 1);
	assert_int_equal(evicted[0], 1000);
	assert_int_equal(admit_handshakes(1000), 2);
	assert_int_equal(admit_authed(1001), 1);
}

static void
test_full_evicts_most_handshakes(void **state)
{
	const struct config_limits *lim = *state;

	connect_uid(lim, 1002, 0);
	connect_uid(lim, 1001, 0);
	connect_uid(lim, 1001, 0);
	connect_uid(lim, 1003, 1);
	/* Slots full: 1001 holds the most handshakes, not the newcomer. */
	assert_int_equal(admit_connection(1002, lim, fake_evict), 0);
	assert_int_equal(n_evicted, 1);
	assert_int_equal(evicted[0], 1001);
	assert_int_equal(admit_handshakes(1002), 1);
	assert_int_equal(admit_authed(1003), 1);
}

static void
test_full_tie_evicts_lowest_uid(void **state)
{
	const struct config_limits *lim = *state;

	connect_uid(lim, 1005, 0);
	connect_uid(lim, 1001, 0);
	connect_uid(lim, 1009, 0);
	connect_uid(lim, 1003, 0);
	assert_int_equal(admit_connection(2000, lim, fake_evict), 0);
	assert_int_equal(n_evicted, 1);
	assert_int_equal(evicted[0], 1001);
}

static void
test_full_of_authed_refused(void **state)
{
	const struct config_limits *lim = *state;

	for (uid_t u = 1000; u < 1004; u++)
		connect_uid(lim, u, 1);
	assert_int_equal(admit_connection(1000, lim, fake_evict), -EUSERS);
	assert_int_equal(n_evicted, 0);
	/* One closes: room again. */
	admit_count(1002, 1, -1);
	assert_int_equal(admit_authed(1002), 0);
	assert_int_equal(admit_connection(1000, lim, fake_evict), 0);
}

struct rec {
	uid_t	r_uid;
	int	r_val;
};

static void
test_uidtab(void **state)
{
	struct uidtab	 t = UIDTAB_INIT(struct rec);
	struct rec	*r;

	(void)state;
	assert_null(uidtab_find(&t, 5));
	for (uid_t u = 0; u < 20; u++) {
		assert_non_null(r = uidtab_add(&t, u));
		assert_int_equal(r->r_uid, u);
		assert_int_equal(r->r_val, 0);
		r->r_val = (int)u * 10;
	}
	assert_int_equal(uidtab_len(&t), 20);
	assert_non_null(r = uidtab_find(&t, 7));
	assert_int_equal(r->r_val, 70);
	uidtab_del(&t, r);
	assert_null(uidtab_find(&t, 7));
	assert_int_equal(uidtab_len(&t), 19);
	/* The others kept their values (the last moved into 7's place). */
	for (uid_t u = 0; u < 20; u++) {
		if (u == 7)
			continue;
		assert_non_null(r = uidtab_find(&t, u));
		assert_int_equal(r->r_val, (int)u * 10);
	}
	assert_int_equal(uidtab_reserve(&t), 0);
	uidtab_free(&t);
	assert_int_equal(uidtab_len(&t), 0);
	assert_null(uidtab_find(&t, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_room_no_eviction, setup),
		cmocka_unit_test_setup(test_own_handshake_evicted_at_cap,
		    setup),
		cmocka_unit_test_setup(test_full_evicts_most_handshakes,
		    setup),
		cmocka_unit_test_setup(test_full_tie_evicts_lowest_uid, setup),
		cmocka_unit_test_setup(test_full_of_authed_refused, setup),
		cmocka_unit_test(test_uidtab),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
