/* log.c: leveled logging to stderr, with journald priority prefixes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static int	log_level = LOG_LVL_INFO;
static int	log_journald;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "err",
	[LOG_LVL_WARNING] = "warning",
	[LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

/* Set level and output style; journald: "<N>" prefixes, no timestamps. */
void
log_init(int level, int journald)
{
	log_level = level;
	log_journald = journald;
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

/* Set by log_init() from forkd's start (JOURNAL_STREAM, INVOCATION_ID). */
int
log_is_journald(void)
{
	return log_journald;
}

/* Parse a level name. */
int
log_level_parse(const char *s)
{
	for (int i = LOG_LVL_ERR; i <= LOG_LVL_DEBUG; i++)
		if (strcasecmp(s, log_names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return LOG_LVL_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	return -EINVAL;
}

/* Name of a level, for messages. */
const char *
log_level_name(int level)
{
	if (level < LOG_LVL_ERR || level > LOG_LVL_DEBUG)
		return "?";
	return log_names[level];
}

/* Copy n bytes of a formatted message to dst at *off (cap bytes) with
 * control bytes as \xNN, so that no message, whatever a client put in
 * it, spans two lines or starts one with a forged "<N>" priority. Already
 * escaped strings keep their backslashes. */
static void
log_sanitize(char *dst, size_t cap, size_t *off, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t	o = *off;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	*off = o;
}

/* Format one line and write it with a single write(2). */
static void
log_vwrite(int level, const char *errstr, const char *fmt, va_list ap)
{
	char	buf[2048], msg[2048];
	size_t	off = 0;
	int	n, saved = errno;

	if (level > log_level) {
		errno = saved;
		return;
	}
	if (log_journald)
		n = snprintf(buf, sizeof buf, "<%d>", level);
	else {
		struct timespec	ts;
		struct tm	tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d "
		    "forkd[%d]: %s: ", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid(),
		    log_names[level]);
	}
	off = n > 0 ? (size_t)n : 0;
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n > 0)
		log_sanitize(buf, sizeof buf - 1, &off, msg,
		    (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	if (errstr != NULL && off + 2 < sizeof buf - 1) {
		buf[off++] = ':';
		buf[off++] = ' ';
		log_sanitize(buf, sizeof buf - 1, &off, errstr, strlen(errstr));
	}
	buf[off++] = '\n';
	(void)!write(STDERR_FILENO, buf, off);
	errno = saved;
}

#define LOG_FN(fn, lvl, witherr)				\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	int	saved = errno;					\
								\
	va_start(ap, fmt);					\
	log_vwrite(lvl, witherr ? strerror(saved) : NULL, fmt, ap); \
	va_end(ap);						\
	errno = saved;						\
}

LOG_FN(log_warn, LOG_LVL_WARNING, 1)
LOG_FN(log_warnx, LOG_LVL_WARNING, 0)
LOG_FN(log_notice, LOG_LVL_NOTICE, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_errx, LOG_LVL_ERR, 0)

/* Log at a level chosen at run time (clamped to err..debug). */
void
log_at(int level, const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	else if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	va_start(ap, fmt);
	log_vwrite(level, NULL, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Log with strerror(errno) and exit; only before the loop runs. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit; only before the loop runs or for a broken invariant. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Escape a client-supplied string for the log. */
char *
log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t	o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

int
log_notice_limited(struct log_ratelimit *rl, const char *fmt, ...)
{
	char		buf[1024];
	unsigned int	suppressed;
	va_list		ap;

	if (LOG_LVL_NOTICE > log_level ||
	    !log_ratelimit(rl, 5000, 20, &suppressed))
		return 0;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		log_notice("%s (%u similar lines not logged)", buf, suppressed);
	else
		log_notice("%s", buf);
	return 1;
}

/* Fixed-window budget on the monotonic clock. */
int
log_ratelimit(struct log_ratelimit *rl, unsigned int interval_ms,
    unsigned int burst, unsigned int *ret_suppressed)
{
	uint64_t		now = clock_mono_ms();

	if (rl->rl_start_ms == 0 || now - rl->rl_start_ms >= interval_ms) {
		rl->rl_start_ms = now;
		rl->rl_lines = 0;
	}
	if (rl->rl_lines >= burst) {
		rl->rl_suppressed++;
		return 0;
	}
	rl->rl_lines++;
	*ret_suppressed = rl->rl_suppressed;
	rl->rl_suppressed = 0;
	return 1;
}
