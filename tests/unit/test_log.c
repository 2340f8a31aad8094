/* test_log.c: escaping of client strings and log levels (daemon/log.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define EXPECT_STR(got, want, what) do {				\
	const char *g_ = (got), *w_ = (want);				\
	if (strcmp(g_, w_) != 0)					\
		fail_msg("%s: \"%s\", expected \"%s\"", (what), g_, w_);\
} while (0)

/* Escape src (srclen bytes) into a dstlen buffer inside a guarded one and
 * check nothing beyond dstlen was written. */
static const char *
esc(const char *src, size_t srclen, size_t dstlen)
{
	static char	buf[256];

	assert_true(dstlen + 16 <= sizeof buf);
	memset(buf, '#', sizeof buf);
	assert_ptr_equal(log_escape(buf, dstlen, src, srclen), buf);
	for (size_t i = dstlen; i < sizeof buf; i++)
		if (buf[i] != '#')
			fail_msg("log_escape(\"%.*s\", dstlen %zu) wrote byte "
			    "%zu", (int)srclen, src, dstlen, i);
	if (dstlen > 0 && memchr(buf, '\0', dstlen) == NULL)
		fail_msg("log_escape(dstlen %zu) left no NUL", dstlen);
	return buf;
}

static void
test_escape(void **state)
{
	EXPECT_STR(esc("plain text", 10, 64), "plain text", "plain");
	EXPECT_STR(esc("", 0, 64), "", "empty");
	EXPECT_STR(esc("a\nb", 3, 64), "a\\x0ab", "newline");
	EXPECT_STR(esc("\r\t\x1b", 3, 64), "\\x0d\\x09\\x1b", "controls");
	EXPECT_STR(esc("back\\slash", 10, 64), "back\\x5cslash", "backslash");
	EXPECT_STR(esc("\x7f\x80\xff", 3, 64), "\\x7f\\x80\\xff", "high bytes");
	EXPECT_STR(esc("a\0b", 3, 64), "a\\x00b", "embedded NUL");
	/* srclen, not the NUL, ends the input. */
	EXPECT_STR(esc("abcdef", 3, 64), "abc", "srclen 3");
	/* A forged log line stays on one line. */
	EXPECT_STR(esc("x\n2024-01-01 forkd: err: fake", 29, 64),
	    "x\\x0a2024-01-01 forkd: err: fake", "forged line");
}

static void
test_escape_truncates(void **state)
{
	EXPECT_STR(esc("abcdefgh", 8, 5), "abcd", "dstlen 5");
	EXPECT_STR(esc("abcdefgh", 8, 1), "", "dstlen 1");
	EXPECT_STR(esc("abcdefgh", 8, 9), "abcdefgh", "exact fit");
	EXPECT_STR(esc("abcdefgh", 8, 8), "abcdefg", "one short");
	/* An escape is never cut in half. */
	EXPECT_STR(esc("ab\n", 3, 5), "ab", "escape does not fit");
	EXPECT_STR(esc("ab\n", 3, 7), "ab\\x0a", "escape just fits");
	EXPECT_STR(esc("\n\n\n", 3, 6), "\\x0a", "one of three escapes");
	/* dstlen 0: nothing written at all. */
	esc("abc", 3, 0);
	for (size_t n = 0; n < 40; n++)
		esc("x\x01y\\z\xfe and more text to cut", 27, n);
}

static void
test_level_parse(void **state)
{
	static const struct { const char *s; int l; } ok[] = {
		{ "err", LOG_LVL_ERR }, { "warning", LOG_LVL_WARNING },
		{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG }, { "INFO", LOG_LVL_INFO },
		{ "Debug", LOG_LVL_DEBUG },
	};
	static const char *const bad[] = { "", "verbose", "7", "inf",
	    "debugging", " info", "crit" };

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int r = log_level_parse(ok[i].s);

		if (r != ok[i].l)
			fail_msg("log_level_parse(\"%s\") = %d, expected %d",
			    ok[i].s, r, ok[i].l);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = log_level_parse(bad[i]);

		if (r != -EINVAL)
			fail_msg("log_level_parse(\"%s\") = %d, expected "
			    "-EINVAL", bad[i], r);
	}
	for (int l = LOG_LVL_ERR; l <= LOG_LVL_DEBUG; l++)
		assert_int_equal(log_level_parse(log_level_name(l)), l);
	EXPECT_STR(log_level_name(99), "?", "name of level 99");
	EXPECT_STR(log_level_name(-1), "?", "name of level -1");
}

/* Run fn with stderr redirected; return what was written. */
static const char *
capture(void (*fn)(void))
{
	static char	out[4096];
	int		pp[2], saved;
	ssize_t		n;

	assert_int_equal(pipe(pp), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(pp[1], STDERR_FILENO), STDERR_FILENO);
	close(pp[1]);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = read(pp[0], out, sizeof out - 1);
	close(pp[0]);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void
log_some(void)
{
	log_debug("hidden debug line");
	log_info("info %d", 1);
	errno = ENOENT;
	log_warn("warn with errno");
	if (errno != ENOENT)
		log_errx("errno not preserved: %d", errno);
}

/* Level filter, journald prefixes, log_warn's strerror. */
static void
test_output(void **state)
{
	const char *out;

	log_init(LOG_LVL_INFO, 1);
	out = capture(log_some);
	if (strstr(out, "hidden") != NULL)
		fail_msg("debug line written at level info: \"%s\"", out);
	if (strstr(out, "<6>info 1\n") == NULL)
		fail_msg("no \"<6>info 1\" line: \"%s\"", out);
	if (strstr(out, "<4>warn with errno: No such file or directory\n") ==
	    NULL)
		fail_msg("no \"<4>warn with errno: ...\" line: \"%s\"", out);
	if (strstr(out, "errno not preserved") != NULL)
		fail_msg("%s", out);

	log_set_level(LOG_LVL_DEBUG);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	out = capture(log_some);
	if (strstr(out, "<7>hidden debug line\n") == NULL)
		fail_msg("no debug line at level debug: \"%s\"", out);

	log_init(LOG_LVL_WARNING, 0);
	out = capture(log_some);
	if (strstr(out, "info 1") != NULL)
		fail_msg("info line written at level warning: \"%s\"", out);
	if (strstr(out, "warning: warn with errno") == NULL)
		fail_msg("no plain-style warning line: \"%s\"", out);
}

static void
log_levels(void)
{
	log_at(LOG_LVL_NOTICE, "at %s", "notice");
	log_at(LOG_LVL_WARNING, "at %s", "warning");
	log_at(LOG_LVL_DEBUG + 5, "above debug");
	log_at(0, "below err");
	log_at(LOG_LVL_INFO, "bad %s", "x\n<0>forged");
}

/* log_at(): the level given (clamped to err..debug), filtered like the
 * others, and the message sanitized. */
static void
test_log_at(void **state)
{
	const char *out;

	(void)state;
	log_init(LOG_LVL_DEBUG, 1);
	out = capture(log_levels);
	if (strstr(out, "<5>at notice\n") == NULL ||
	    strstr(out, "<4>at warning\n") == NULL ||
	    strstr(out, "<7>above debug\n") == NULL ||
	    strstr(out, "<3>below err\n") == NULL ||
	    strstr(out, "<6>bad x\\x0a<0>forged\n") == NULL)
		fail_msg("log_at() lines wrong: \"%s\"", out);
	log_init(LOG_LVL_NOTICE, 1);
	out = capture(log_levels);
	if (strstr(out, "above debug") != NULL || strstr(out, "bad") != NULL ||
	    strstr(out, "<5>at notice\n") == NULL)
		fail_msg("log_at() ignores the level: \"%s\"", out);
}

static void
log_forged(void)
{
	log_info("target %s", "x\n<0>forged\r");
	log_debug("debug %s", "y\n<0>forged");
	errno = EINVAL;
	log_warn("warn %s", "z\n<3>forged");
}

/* A client string that reached a format unescaped still cannot start a
 * line of its own or forge a priority, at any level. */
static void
test_output_sanitized(void **state)
{
	const char *out;

	log_init(LOG_LVL_DEBUG, 1);
	out = capture(log_forged);
	if (strstr(out, "\n<0>") != NULL || strstr(out, "\n<3>forged") != NULL ||
	    strchr(out, '\r') != NULL)
		fail_msg("a forged line got through: \"%s\"", out);
	if (strstr(out, "<6>target x\\x0a<0>forged\\x0d\n") == NULL ||
	    strstr(out, "<7>debug y\\x0a<0>forged\n") == NULL ||
	    strstr(out, "<4>warn z\\x0a<3>forged: Invalid argument\n") ==
	    NULL)
		fail_msg("control bytes not shown as \\xNN: \"%s\"", out);
	log_init(LOG_LVL_INFO, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_truncates),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_output_sanitized),
		cmocka_unit_test(test_log_at),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
