/* test_spawn_names.c: child names and exit codes (daemon/spawn.c). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "forkd_limits.h"
#include "spawn.h"

/* Is s "<base>-N" with N decimal digits? */
static int
is_base_n(const char *s, const char *base)
{
	size_t l = strlen(base);

	if (strncmp(s, base, l) != 0 || s[l] != '-' || s[l + 1] == '\0')
		return 0;
	for (const char *p = s + l + 1; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* Expect spawn_name_valid(name) == want. */
static void
expect_valid(const char *name, int want, const char *what)
{
	int got = spawn_name_valid(name);

	if ((got != 0) != (want != 0))
		fail_msg("spawn_name_valid(%s) = %d, expected %s", what, got,
		    want ? "valid" : "invalid");
}

static void
test_name_valid(void **state)
{
	char	buf[LIMIT_NAME_MAX + 8];

	expect_valid("worker", 1, "\"worker\"");
	expect_valid("worker-1", 1, "\"worker-1\"");
	expect_valid("a.b_c+d@e:f", 1, "punctuation");
	expect_valid("1a", 1, "\"1a\"");
	expect_valid("x", 1, "one letter");
	expect_valid("a-", 1, "\"a-\"");

	/* A leading '-' would read as an option to forkctl kill. */
	expect_valid("-", 0, "\"-\"");
	expect_valid("-9", 0, "\"-9\"");
	expect_valid("-worker", 0, "\"-worker\"");

	expect_valid(NULL, 0, "NULL");
	expect_valid("", 0, "empty");
	expect_valid("123", 0, "all digits");
	expect_valid("0", 0, "\"0\"");
	expect_valid("a/b", 0, "with '/'");
	expect_valid("/", 0, "\"/\"");
	expect_valid("a b", 0, "with a space");
	expect_valid(" a", 0, "leading space");
	expect_valid("a\tb", 0, "with a tab");
	expect_valid("a\nb", 0, "with a newline");
	expect_valid("\x01", 0, "control byte 0x01");
	expect_valid("a\x1b[31m", 0, "escape sequence");
	expect_valid("a\x7f", 0, "DEL");
	expect_valid("caf\xc3\xa9", 0, "UTF-8 bytes");
	expect_valid("\xff", 0, "byte 0xff");

	memset(buf, 'n', LIMIT_NAME_MAX);
	buf[LIMIT_NAME_MAX] = '\0';
	expect_valid(buf, 1, "LIMIT_NAME_MAX bytes");
	buf[LIMIT_NAME_MAX] = 'n';
	buf[LIMIT_NAME_MAX + 1] = '\0';
	expect_valid(buf, 0, "LIMIT_NAME_MAX + 1 bytes");
}

/* Generated names: "<base>-N", unique, valid, sanitised. */
static void
test_name_generate(void **state)
{
	char	a[LIMIT_NAME_MAX + 1], b[LIMIT_NAME_MAX + 1], base[200];

	spawn_name_generate("exit", 0, a, sizeof a);
	spawn_name_generate("exit", 0, b, sizeof b);
	if (!is_base_n(a, "exit") || !is_base_n(b, "exit"))
		fail_msg("generated \"%s\" and \"%s\", expected exit-N", a, b);
	if (strcmp(a, b) == 0)
		fail_msg("two generated names are both \"%s\"", a);
	expect_valid(a, 1, a);

	/* Many in a row are all different. */
	{
		static char names[500][LIMIT_NAME_MAX + 1];

		for (int i = 0; i < 500; i++) {
			spawn_name_generate("w", 0, names[i], sizeof names[i]);
			for (int j = 0; j < i; j++)
				if (strcmp(names[i], names[j]) == 0)
					fail_msg("generated name %d \"%s\" "
					    "repeats name %d", i, names[i], j);
		}
	}

	/* Bad bytes are replaced; the result is a valid name. */
	spawn_name_generate("a b/c\x01\x7f\xff", 0, a, sizeof a);
	if (!is_base_n(a, "a_b_c___"))
		fail_msg("base with bad bytes gave \"%s\", expected "
		    "a_b_c___-N", a);
	expect_valid(a, 1, a);

	/* So is a base starting with '-' (an exec path /opt/-tool). */
	spawn_name_generate("-tool", 0, a, sizeof a);
	if (!is_base_n(a, "_tool"))
		fail_msg("base -tool gave \"%s\", expected _tool-N", a);
	expect_valid(a, 1, a);

	/* An empty base still gives a valid name. */
	spawn_name_generate("", 0, a, sizeof a);
	expect_valid(a, 1, a);
	if (strchr(a, '-') == NULL)
		fail_msg("empty base gave \"%s\", expected <something>-N", a);

	/* A long base is cut so the name fits LIMIT_NAME_MAX. */
	memset(base, 'L', sizeof base - 1);
	base[sizeof base - 1] = '\0';
	spawn_name_generate(base, 0, a, sizeof a);
	if (strlen(a) > LIMIT_NAME_MAX)
		fail_msg("name from a 199-byte base is %zu bytes, above %d",
		    strlen(a), LIMIT_NAME_MAX);
	expect_valid(a, 1, "name from a long base");
	if (strchr(a, '-') == NULL)
		fail_msg("name from a long base \"%s\" lost its -N", a);

	/* A digits-only base must not give an all-digits name. */
	spawn_name_generate("42", 0, a, sizeof a);
	expect_valid(a, 1, a);
}

/* A generated name skips the name of a live child of the same uid; another
 * uid's child does not count (names are per uid, and a generated name must
 * not tell whether another uid has a child of that name). */
static void
test_name_generate_skips_live(void **state)
{
	struct spawn_child	fake;
	char			a[LIMIT_NAME_MAX + 1], b[LIMIT_NAME_MAX + 1];
	unsigned long		n;

	spawn_name_generate("live", 1000, a, sizeof a);
	assert_true(is_base_n(a, "live"));
	n = strtoul(a + strlen("live-"), NULL, 10);

	/* A running child of uid 1000 has the next name in the sequence. */
	memset(&fake, 0, sizeof fake);
	fake.c_pid = 999999;
	fake.c_uid = 1000;
	fake.c_state = SPAWN_RUNNING;
	fake.c_errfd = -1;
	snprintf(fake.c_name, sizeof fake.c_name, "live-%lu", n + 1);
	TAILQ_INSERT_TAIL(&spawn_children, &fake, c_entry);
	/* Names are per uid; a pid is any uid's. */
	assert_ptr_equal(spawn_find(0, fake.c_name, 1000), &fake);
	assert_ptr_equal(spawn_find(0, fake.c_name, SPAWN_ANY_UID), &fake);
	assert_null(spawn_find(0, fake.c_name, 0));
	assert_null(spawn_find(0, fake.c_name, 1001));
	assert_ptr_equal(spawn_find(999999, NULL, 0), &fake);
	assert_int_equal(spawn_count_named(fake.c_name), 1);
	/* For uid 0 that name is free. */
	spawn_name_generate("live", 0, b, sizeof b);
	assert_string_equal(b, fake.c_name);
	/* For uid 1000 the next one is skipped when taken. */
	snprintf(fake.c_name, sizeof fake.c_name, "live-%lu", n + 2);
	spawn_name_generate("live", 1000, b, sizeof b);
	TAILQ_REMOVE(&spawn_children, &fake, c_entry);
	if (strcmp(b, fake.c_name) == 0)
		fail_msg("generated \"%s\", the name of a live child of the "
		    "same uid", b);
	assert_true(is_base_n(b, "live"));
	assert_int_equal(strtoul(b + strlen("live-"), NULL, 10), n + 3);
	assert_null(spawn_find(0, fake.c_name, SPAWN_ANY_UID));
	assert_int_equal(spawn_count_named(fake.c_name), 0);
}

/* Wait status of a child that ran fn. */
static int
status_of(void (*fn)(void), int killsig)
{
	pid_t	pid;
	int	st;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(99);
	}
	if (killsig != 0)
		assert_int_equal(kill(pid, killsig), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void exit0(void) { _exit(0); }
static void exit7(void) { _exit(7); }
static void exit255(void) { _exit(255); }
static void exit256(void) { _exit(256); }
static void sleeper(void) { for (;;) pause(); }

static void
segv(void)
{
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
}

/* Exit statuses and signals, from real children. */
static void
test_exitcode(void **state)
{
	struct { void (*fn)(void); int sig; int want; const char *what; } c[] = {
		{ exit0, 0, 0, "_exit(0)" },
		{ exit7, 0, 7, "_exit(7)" },
		{ exit255, 0, 255, "_exit(255)" },
		{ exit256, 0, 0, "_exit(256)" },
		{ sleeper, SIGKILL, -SIGKILL, "SIGKILL" },
		{ sleeper, SIGTERM, -SIGTERM, "SIGTERM" },
		{ sleeper, SIGINT, -SIGINT, "SIGINT" },
		{ sleeper, SIGUSR1, -SIGUSR1, "SIGUSR1" },
		{ segv, 0, -SIGSEGV, "SIGSEGV (core dump bit may be set)" },
	};

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		int st = status_of(c[i].fn, c[i].sig);
		int got = spawn_exitcode(st);

		if (got != c[i].want)
			fail_msg("spawn_exitcode for %s (status %#x) = %d, "
			    "expected %d", c[i].what, st, got, c[i].want);
	}
}

/* Names of states for logs. */
static void
test_state_names(void **state)
{
	for (int i = 0; i < SPAWN_STATE_MAX; i++) {
		const char *s = spawn_state_name(i);

		assert_non_null(s);
		assert_true(s[0] != '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_generate),
		cmocka_unit_test(test_name_generate_skips_live),
		cmocka_unit_test(test_exitcode),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests_name("spawn_names", tests, NULL, NULL);
}
