/* log.h: the daemon's one log module. */
#ifndef FORKD_LOG_H
#define FORKD_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* syslog priorities, also the journald "<N>" prefixes. */
enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

void	log_init(int level, int journald);
void	log_set_level(int level);
int	log_get_level(void);
/* Is the log going to journald (then structured fields can be sent)? */
int	log_is_journald(void);
/* Parse "err", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int	log_level_parse(const char *s);
const char *log_level_name(int level);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
/* At level (enum log_level; out of range: the nearest). */
void	log_at(int level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *, ...);
__attribute__((noreturn, format(printf, 1, 2))) void fatalx(const char *, ...);

/* A budget of log lines for messages a client can cause at will (refused
 * spawns, ...): at most burst lines per interval, the rest counted. */
struct log_ratelimit {
	unsigned long long	rl_start_ms;
	unsigned int		rl_lines;
	unsigned int		rl_suppressed;
};

/* May one more line be logged now? 1: yes, and *ret_suppressed is how many
 * were dropped since the last one logged; 0: no (this one is counted). */
int	log_ratelimit(struct log_ratelimit *, unsigned int interval_ms,
	    unsigned int burst, unsigned int *ret_suppressed);
/* log_notice() within rl's budget of 20 lines per 5 s; the first line
 * after lines were dropped ends "(N similar lines not logged)". 1 if the
 * line was logged. */
int	log_notice_limited(struct log_ratelimit *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Copy a client-supplied string into dst with non-printable bytes escaped
 * (\xNN), truncated to fit. Returns dst. */
char	*log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
