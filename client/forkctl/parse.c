/* parse.c: forkctl's parsers of option values (see parse.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "parse.h"

/* Most digits after the point taken into account: int * 2^40 * 10^6
 * stays within 128 bits. */
#define PARSE_FRAC_DIGITS	6

/* Write an explanation into err and return code. */
static int __attribute__((format(printf, 4, 5)))
parse_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A decimal "123" or "1.25" at s: integer part, fraction as num/den.
 * *ret_end points after it. -EINVAL: no digits; -ERANGE: too large. */
static int
parse_decimal(const char *s, const char **ret_end, uint64_t *ret_int,
    uint64_t *ret_fnum, uint64_t *ret_fden)
{
	uint64_t	v = 0, fnum = 0, fden = 1;
	int		digits = 0, fdigits = 0;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9'; s++, fdigits++) {
			if (fdigits >= PARSE_FRAC_DIGITS)
				continue;
			fnum = fnum * 10 + (uint64_t)(*s - '0');
			fden *= 10;
		}
		if (fdigits == 0)
			return -EINVAL;	/* "1." */
	}
	if (digits == 0 && fdigits == 0)
		return -EINVAL;
	*ret_end = s;
	*ret_int = v;
	*ret_fnum = fnum;
	*ret_fden = fden;
	return 0;
}

/* (int + fnum/fden) * mult / div, rounded to nearest; -ERANGE on
 * overflow. */
static int
parse_scale(uint64_t iv, uint64_t fnum, uint64_t fden, uint64_t mult,
    uint64_t div, uint64_t *ret)
{
	unsigned __int128	v;

	v = (unsigned __int128)iv * mult * fden + (unsigned __int128)fnum *
	    mult;
	v = (v + (unsigned __int128)fden * div / 2) /
	    ((unsigned __int128)fden * div);
	if (v > UINT64_MAX)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

/* Parse a duration. */
int
parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ret_ms,
    char *err, size_t errlen)
{
	static const struct {
		const char	*unit;
		uint64_t	 mult, div;	/* ms = value * mult / div */
	} units[] = {
		{ "ms", 1, 1 }, { "", 1000, 1 },
		{ "s", 1000, 1 }, { "sec", 1000, 1 }, { "m", 60000, 1 },
		{ "min", 60000, 1 }, { "h", 3600000, 1 },
		{ "d", 86400000, 1 },
	};
	const char	*end;
	uint64_t	 iv, fnum, fden, v;
	int		 r;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty duration");
	if (*s == '-')
		return parse_fail(-ERANGE, err, errlen,
		    "'%s': a duration cannot be negative", s);
	r = parse_decimal(s, &end, &iv, &fnum, &fden);
	if (r == -ERANGE)
		return parse_fail(-ERANGE, err, errlen, "'%s' is too long", s);
	if (r < 0)
		goto bad;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		if (parse_scale(iv, fnum, fden, units[i].mult, units[i].div,
		    &v) < 0 || v > max_ms)
			return parse_fail(-ERANGE, err, errlen, "'%s' is "
			    "longer than %llu ms", s,
			    (unsigned long long)max_ms);
		*ret_ms = v;
		return 0;
	}
bad:
	return parse_fail(-EINVAL, err, errlen, "'%s' is not a duration "
	    "(e.g. 500ms, 2s, 1.5m, 1h; a bare number is seconds)", s);
}

/* Parse a byte size. */
int
parse_size(const char *s, uint64_t *ret, char *err, size_t errlen)
{
	const char	*end;
	uint64_t	 iv, fnum, fden, mult = 1, v;
	int		 r, shift = 0;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty size");
	if (*s == '-')
		return parse_fail(-ERANGE, err, errlen,
		    "'%s': a size cannot be negative", s);
	r = parse_decimal(s, &end, &iv, &fnum, &fden);
	if (r == -ERANGE)
		goto big;
	if (r < 0)
		goto bad;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'k':
		shift = 10;
		break;
	case 'm':
		shift = 20;
		break;
	case 'g':
		shift = 30;
		break;
	case 't':
		shift = 40;
		break;
	case 'b':
		break;
	default:
		goto bad;
	}
	if (*end != '\0' && shift > 0) {
		end++;
		if (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0)
			end += strlen(end);
	} else if (*end != '\0')
		end++;		/* "512B" */
	if (*end != '\0')
		goto bad;
	if (shift == 0 && fnum != 0)
		return parse_fail(-EINVAL, err, errlen,
		    "'%s': a number of bytes has no fraction", s);
	mult <<= shift;
	if (parse_scale(iv, fnum, fden, mult, 1, &v) < 0)
		goto big;
	*ret = v;
	return 0;
big:
	return parse_fail(-ERANGE, err, errlen, "'%s' is too large", s);
bad:
	return parse_fail(-EINVAL, err, errlen, "'%s' is not a size (bytes, "
	    "or with a suffix K, M, G or T: powers of 1024)", s);
}

/* Parse an unsigned decimal. */
int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
    char *err, size_t errlen)
{
	const char	*end;
	uint64_t	 iv, fnum, fden;
	int		 r;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty number");
	r = parse_decimal(s, &end, &iv, &fnum, &fden);
	if (r == -EINVAL || (r == 0 && (*end != '\0' || fden != 1 ||
	    strchr(s, '.') != NULL)))
		return parse_fail(-EINVAL, err, errlen,
		    "'%s' is not a whole number", s);
	if (r < 0 || iv < min || iv > max)
		return parse_fail(-ERANGE, err, errlen, "'%s' is not in "
		    "%llu..%llu", s, (unsigned long long)min,
		    (unsigned long long)max);
	*ret = iv;
	return 0;
}

/* Parse a signed decimal. */
int
parse_int(const char *s, long min, long max, long *ret, char *err,
    size_t errlen)
{
	char	*end;
	long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return parse_fail(-EINVAL, err, errlen,
		    "'%s' is not a whole number", s != NULL ? s : "");
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0')
		return parse_fail(-EINVAL, err, errlen,
		    "'%s' is not a whole number", s);
	if (errno != 0 || v < min || v > max)
		return parse_fail(-ERANGE, err, errlen, "'%s' is not in "
		    "%ld..%ld", s, min, max);
	*ret = v;
	return 0;
}

/* Parse an octal umask. */
int
parse_umask(const char *s, int *ret, char *err, size_t errlen)
{
	unsigned int	v = 0;
	const char	*p;

	if (s == NULL || *s == '\0' || strlen(s) > 4)
		goto bad;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			goto bad;
		v = v * 8 + (unsigned int)(*p - '0');
	}
	if (v > 0777)
		goto bad;
	*ret = (int)v;
	return 0;
bad:
	return parse_fail(-EINVAL, err, errlen, "'%s' is not an octal "
	    "umask (000..777, e.g. 022)", s != NULL ? s : "");
}

/* RLIMIT_* names; bytes: values are sizes. */
static const struct {
	const char	*name;
	int		 resource;
	int		 bytes;
} parse_rlimits[] = {
	{ "as",		RLIMIT_AS,		1 },
	{ "core",	RLIMIT_CORE,		1 },
	{ "cpu",	RLIMIT_CPU,		0 },	/* seconds */
	{ "data",	RLIMIT_DATA,		1 },
	{ "fsize",	RLIMIT_FSIZE,		1 },
	{ "locks",	RLIMIT_LOCKS,		0 },
	{ "memlock",	RLIMIT_MEMLOCK,		1 },
	{ "msgqueue",	RLIMIT_MSGQUEUE,	1 },
	{ "nice",	RLIMIT_NICE,		0 },
	{ "nofile",	RLIMIT_NOFILE,		0 },
	{ "nproc",	RLIMIT_NPROC,		0 },
	{ "rss",	RLIMIT_RSS,		1 },
	{ "rtprio",	RLIMIT_RTPRIO,		0 },
	{ "rttime",	RLIMIT_RTTIME,		0 },	/* microseconds */
	{ "sigpending",	RLIMIT_SIGPENDING,	0 },
	{ "stack",	RLIMIT_STACK,		1 },
};
#define PARSE_NRLIMITS	(sizeof parse_rlimits / sizeof parse_rlimits[0])

/* The resource of an rlimit name. */
int
parse_rlimit_resource(const char *name, size_t len, int *ret_bytes)
{
	if (len > 7 && strncasecmp(name, "RLIMIT_", 7) == 0) {
		name += 7;
		len -= 7;
	}
	for (size_t i = 0; i < PARSE_NRLIMITS; i++) {
		if (strlen(parse_rlimits[i].name) == len &&
		    strncasecmp(parse_rlimits[i].name, name, len) == 0) {
			if (ret_bytes != NULL)
				*ret_bytes = parse_rlimits[i].bytes;
			return parse_rlimits[i].resource;
		}
	}
	return -1;
}

/* The name of a resource. */
const char *
parse_rlimit_name(int resource)
{
	for (size_t i = 0; i < PARSE_NRLIMITS; i++) {
		if (parse_rlimits[i].resource == resource)
			return parse_rlimits[i].name;
	}
	return NULL;
}

/* One rlimit value: a count or size, or unlimited. */
static int
parse_rlimit_value(const char *s, int bytes, uint64_t *ret, char *err,
    size_t errlen)
{
	if (strcasecmp(s, "unlimited") == 0 || strcasecmp(s, "infinity") == 0) {
		*ret = FORKD_RLIM_INFINITY;
		return 0;
	}
	if (bytes)
		return parse_size(s, ret, err, errlen);
	return parse_uint(s, 0, UINT64_MAX - 1, ret, err, errlen);
}

/* Parse NAME=SOFT[:HARD]. */
int
parse_rlimit(const char *s, struct forkd_rlimit *ret, char *err,
    size_t errlen)
{
	char		 buf[64], sub[PARSE_ERR_MAX], *colon;
	const char	*eq;
	uint64_t	 soft, hard;
	int		 res, bytes = 0;

	if (s == NULL || (eq = strchr(s, '=')) == NULL || eq == s)
		return parse_fail(-EINVAL, err, errlen, "'%s' is not "
		    "NAME=SOFT[:HARD] (e.g. nofile=1024 or core=0:unlimited)",
		    s != NULL ? s : "");
	res = parse_rlimit_resource(s, (size_t)(eq - s), &bytes);
	if (res < 0)
		return parse_fail(-EINVAL, err, errlen, "unknown resource "
		    "'%.*s' (one of as, core, cpu, data, fsize, locks, "
		    "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, "
		    "rttime, sigpending, stack)", (int)(eq - s), s);
	if (strlen(eq + 1) >= sizeof buf || eq[1] == '\0')
		return parse_fail(-EINVAL, err, errlen, "'%s': bad limit", s);
	strcpy(buf, eq + 1);
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon++ = '\0';
	if (parse_rlimit_value(buf, bytes, &soft, sub, sizeof sub) < 0)
		return parse_fail(-EINVAL, err, errlen, "%.*s soft limit: %s",
		    (int)(eq - s), s, sub);
	hard = soft;
	if (colon != NULL && parse_rlimit_value(colon, bytes, &hard, sub,
	    sizeof sub) < 0)
		return parse_fail(-EINVAL, err, errlen, "%.*s hard limit: %s",
		    (int)(eq - s), s, sub);
	if (soft > hard)
		return parse_fail(-ERANGE, err, errlen, "'%s': the soft limit "
		    "is above the hard limit", s);
	ret->resource = res;
	ret->soft = soft;
	ret->hard = hard;
	return 0;
}

/* Parse a CPU list. */
int
parse_cpus(const char *s, int *cpus, size_t max, int limit, size_t *ret_n,
    char *err, size_t errlen)
{
	unsigned char	*set;
	const char	*p = s;
	char		*end;
	unsigned long	 a, b;
	size_t		 n = 0;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty CPU list");
	if (limit <= 0)
		return parse_fail(-ERANGE, err, errlen, "no CPUs allowed");
	set = calloc((size_t)limit, 1);
	if (set == NULL)
		return parse_fail(-ENOMEM, err, errlen, "out of memory");
	for (;;) {
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				goto bad;
			b = strtoul(p, &end, 10);
		}
		if (errno != 0 || a >= (unsigned long)limit ||
		    b >= (unsigned long)limit) {
			free(set);
			return parse_fail(-ERANGE, err, errlen, "'%s': CPUs "
			    "are numbered 0..%d", s, limit - 1);
		}
		if (b < a) {
			free(set);
			return parse_fail(-EINVAL, err, errlen, "'%s': range "
			    "%lu-%lu goes backwards", s, a, b);
		}
		for (unsigned long c = a; c <= b; c++)
			set[c] = 1;
		if (*end == '\0')
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	for (int c = 0; c < limit; c++)
		n += set[c];
	if (n > max) {
		free(set);
		return parse_fail(-ERANGE, err, errlen, "'%s' names more than "
		    "%zu CPUs", s, max);
	}
	n = 0;
	for (int c = 0; c < limit; c++) {
		if (set[c])
			cpus[n++] = c;
	}
	free(set);
	*ret_n = n;
	return 0;
bad:
	free(set);
	return parse_fail(-EINVAL, err, errlen, "'%s' is not a CPU list "
	    "(e.g. 0,2-3)", s);
}

/* Parse a namespace list. */
int
parse_namespaces(const char *s, unsigned int *ret, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} names[] = {
		{ "pid", FORKD_NS_PID }, { "mount", FORKD_NS_MOUNT },
		{ "mnt", FORKD_NS_MOUNT }, { "net", FORKD_NS_NET },
		{ "network", FORKD_NS_NET }, { "ipc", FORKD_NS_IPC },
		{ "uts", FORKD_NS_UTS }, { "user", FORKD_NS_USER },
		{ "all", FORKD_NS_PID | FORKD_NS_MOUNT | FORKD_NS_NET |
		    FORKD_NS_IPC | FORKD_NS_UTS | FORKD_NS_USER },
	};
	const char	*p = s, *end;
	unsigned int	 v = 0;
	size_t		 len, i;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen,
		    "empty namespace list");
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strlen(names[i].name) == len &&
			    strncasecmp(names[i].name, p, len) == 0)
				break;
		}
		if (i == sizeof names / sizeof names[0])
			return parse_fail(-EINVAL, err, errlen, "unknown "
			    "namespace '%.*s' (one of pid, mount, net, ipc, "
			    "uts, user, all)", (int)len, p);
		v |= names[i].bit;
		if (end == NULL)
			break;
		p = end + 1;
	}
	*ret = v;
	return 0;
}

/* Parse QUOTA[/PERIOD]. */
int
parse_cpu_max(const char *s, uint32_t *ret_quota, uint32_t *ret_period,
    char *err, size_t errlen)
{
	char		 buf[32], sub[PARSE_ERR_MAX], *slash;
	uint64_t	 q, p = 0;

	if (s == NULL || *s == '\0' || strlen(s) >= sizeof buf)
		return parse_fail(-EINVAL, err, errlen, "'%s' is not "
		    "QUOTA[/PERIOD] in microseconds (e.g. 50000/100000)",
		    s != NULL ? s : "");
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (parse_uint(buf, 1000, UINT32_MAX, &q, sub, sizeof sub) < 0)
		return parse_fail(-EINVAL, err, errlen, "quota: %s "
		    "(microseconds per period, at least 1000)", sub);
	if (slash != NULL && parse_uint(slash, 1000, 1000000, &p, sub,
	    sizeof sub) < 0)
		return parse_fail(-EINVAL, err, errlen, "period: %s "
		    "(microseconds)", sub);
	*ret_quota = (uint32_t)q;
	*ret_period = (uint32_t)p;
	return 0;
}

/* All digits? */
static int
parse_is_number(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
	}
	return 1;
}

/* Parse a user. */
int
parse_user(const char *s, uid_t *ret_uid, gid_t *ret_gid, char *ret_name,
    size_t namelen, char *err, size_t errlen)
{
	struct passwd	*pw;
	uint64_t	 v;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty user");
	if (parse_is_number(s)) {
		if (parse_uint(s, 0, (uid_t)-2, &v, NULL, 0) < 0)
			return parse_fail(-ERANGE, err, errlen, "uid '%s' is "
			    "out of range", s);
		pw = getpwuid((uid_t)v);
	} else {
		pw = getpwnam(s);
		if (pw == NULL)
			return parse_fail(-EINVAL, err, errlen, "no such user "
			    "'%s'", s);
		v = pw->pw_uid;
	}
	*ret_uid = (uid_t)v;
	if (ret_gid != NULL)
		*ret_gid = pw != NULL ? pw->pw_gid : (gid_t)-1;
	if (ret_name != NULL && namelen > 0)
		snprintf(ret_name, namelen, "%s", pw != NULL ? pw->pw_name :
		    "");
	return 0;
}

/* Parse a group. */
int
parse_group(const char *s, gid_t *ret, char *err, size_t errlen)
{
	struct group	*gr;
	uint64_t	 v;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty group");
	if (parse_is_number(s)) {
		if (parse_uint(s, 0, (gid_t)-2, &v, NULL, 0) < 0)
			return parse_fail(-ERANGE, err, errlen, "gid '%s' is "
			    "out of range", s);
		*ret = (gid_t)v;
		return 0;
	}
	gr = getgrnam(s);
	if (gr == NULL)
		return parse_fail(-EINVAL, err, errlen, "no such group '%s'",
		    s);
	*ret = gr->gr_gid;
	return 0;
}

/* Parse a group list. */
int
parse_groups(const char *s, gid_t *groups, size_t max, size_t *ret_n,
    char *err, size_t errlen)
{
	char	*copy, *p, *next;
	size_t	 n = 0;
	gid_t	 g;
	int	 r = 0;

	if (s == NULL)
		return parse_fail(-EINVAL, err, errlen, "no group list");
	if (*s == '\0') {
		*ret_n = 0;
		return 0;
	}
	if ((copy = strdup(s)) == NULL)
		return parse_fail(-ENOMEM, err, errlen, "out of memory");
	for (p = copy; p != NULL; p = next) {
		next = strchr(p, ',');
		if (next != NULL)
			*next++ = '\0';
		if ((r = parse_group(p, &g, err, errlen)) < 0)
			goto out;
		for (size_t i = 0; i < n && g != (gid_t)-1; i++) {
			if (groups[i] == g)
				g = (gid_t)-1;	/* a duplicate */
		}
		if (g == (gid_t)-1)
			continue;
		if (n == max) {
			r = parse_fail(-ERANGE, err, errlen, "more than %zu "
			    "groups", max);
			goto out;
		}
		groups[n++] = g;
	}
	*ret_n = n;
out:
	free(copy);
	return r;
}

/* Parse a --stdin/--stdout/--stderr/--fd SPEC. */
int
parse_io_spec(const char *s, int in, struct parse_io *ret, char *err,
    size_t errlen)
{
	struct parse_io	io = { PARSE_IO_FILE, 0, NULL };
	const int	wr = O_WRONLY | O_CREAT;

	if (s == NULL || *s == '\0')
		return parse_fail(-EINVAL, err, errlen, "empty (want null, "
		    "inherit or a file)");
	if (strcmp(s, "null") == 0)
		io.kind = PARSE_IO_NULL;
	else if (strcmp(s, "inherit") == 0)
		io.kind = PARSE_IO_INHERIT;
	else if (strncmp(s, "<>", 2) == 0) {
		io.flags = O_RDWR | O_CREAT;
		io.path = s + 2;
	} else if (strncmp(s, ">>", 2) == 0) {
		io.flags = wr | O_APPEND;
		io.path = s + 2;
	} else if (s[0] == '>') {
		io.flags = wr | O_TRUNC;
		io.path = s + 1;
	} else if (s[0] == '<') {
		io.flags = O_RDONLY;
		io.path = s + 1;
	} else {
		io.flags = in ? O_RDONLY : wr | O_TRUNC;
		io.path = s;
	}
	if (io.kind == PARSE_IO_FILE && io.path[0] == '\0')
		return parse_fail(-EINVAL, err, errlen, "'%s' names no file",
		    s);
	*ret = io;
	return 0;
}

/* Parse --fd N=SPEC. */
int
parse_fd_spec(const char *s, int *ret_fd, struct parse_io *ret, char *err,
    size_t errlen)
{
	struct parse_io	 io;
	const char	*eq;
	char		 num[16];
	uint64_t	 n;
	int		 r;

	if (s == NULL || (eq = strchr(s, '=')) == NULL)
		return parse_fail(-EINVAL, err, errlen, "'%s': want N=FILE, "
		    "N=null or N=inherit", s != NULL ? s : "");
	if ((size_t)(eq - s) >= sizeof num || eq == s)
		return parse_fail(-EINVAL, err, errlen, "'%s': no fd number "
		    "before '='", s);
	memcpy(num, s, (size_t)(eq - s));
	num[eq - s] = '\0';
	if ((r = parse_uint(num, 0, FORKD_FD_TARGET_MAX, &n, err,
	    errlen)) < 0)
		return r;
	if (n <= 2)
		return parse_fail(-EINVAL, err, errlen, "fd %llu: use %s",
		    (unsigned long long)n, n == 0 ? "--stdin" : n == 1 ?
		    "--stdout" : "--stderr");
	if ((r = parse_io_spec(eq + 1, 0, &io, err, errlen)) < 0)
		return r;
	*ret_fd = (int)n;
	*ret = io;
	return 0;
}
