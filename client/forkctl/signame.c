/* signame.c: signal names and numbers for forkctl kill. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forkctl.h"

/* Parse a decimal number in [lo, hi]; -1 on failure. */
static int
signame_number(const char *s, int lo, int hi)
{
	char	*end;
	long	 v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	return (int)v;
}

/* "TERM", "SIGTERM", "term", "15", "RTMIN+2", "SIGRTMAX-1" -> number. */
int
signame_parse(const char *s, int *ret_sig)
{
	const char	*abbrev;
	int		 sig, off;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	sig = signame_number(s, 0, NSIG - 1);
	if (sig >= 0) {
		*ret_sig = sig;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		int	max = strncasecmp(s, "RTMAX", 5) == 0;

		off = 0;
		if (s[5] == (max ? '-' : '+'))
			off = signame_number(s + 6, 0, SIGRTMAX - SIGRTMIN);
		else if (s[5] != '\0')
			return -EINVAL;
		if (off < 0)
			return -EINVAL;
		*ret_sig = max ? SIGRTMAX - off : SIGRTMIN + off;
		return 0;
	}
	for (sig = 1; sig < NSIG; sig++) {
		abbrev = sigabbrev_np(sig);
		if (abbrev != NULL && strcasecmp(abbrev, s) == 0) {
			*ret_sig = sig;
			return 0;
		}
	}
	return -EINVAL;
}

/* "SIGTERM" for 15, "SIGRTMIN+2", or the bare number. */
const char *
signame_name(int sig, char *buf, size_t len)
{
	const char	*abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, len, "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "%d", sig);
	return buf;
}
