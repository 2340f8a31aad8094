/* parse.h: forkctl's parsers of option values (durations, sizes, rlimits,
 * CPU lists, namespace lists, ids). No I/O but the user and group
 * databases; each returns 0, or -EINVAL (malformed) / -ERANGE (out of
 * range) with an explanation in err, and leaves its ret_* untouched on
 * failure. Linked into forkctl and into tests/unit/test_forkctl_parse. */
#ifndef FORKCTL_PARSE_H
#define FORKCTL_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "forkd.h"

#define PARSE_ERR_MAX	160

/* "500ms", "2s", "1.5s", "1m", "2h", "1d"; a bare number is seconds.
 * At most max_ms milliseconds (rounded to the nearest ms). */
int	parse_duration_ms(const char *, uint64_t max_ms, uint64_t *ret_ms,
	    char *err, size_t errlen);
/* Bytes: "4096", "64K", "1.5M", "2G", "1T" (powers of 1024; "KiB", "KB"
 * and "k" are the same). */
int	parse_size(const char *, uint64_t *ret, char *err, size_t errlen);
/* An unsigned decimal in min..max. */
int	parse_uint(const char *, uint64_t min, uint64_t max, uint64_t *ret,
	    char *err, size_t errlen);
/* A signed decimal in min..max. */
int	parse_int(const char *, long min, long max, long *ret, char *err,
	    size_t errlen);
/* An octal umask: "022", "0077", "7". */
int	parse_umask(const char *, int *ret, char *err, size_t errlen);

/* The resource of an rlimit name: "nofile", "NOFILE", "RLIMIT_NOFILE";
 * -1 if unknown. ret_bytes (may be NULL) says whether its values are
 * bytes (so size suffixes apply). */
int	parse_rlimit_resource(const char *name, size_t len, int *ret_bytes);
/* The canonical name of an RLIMIT_* resource ("nofile"), or NULL. */
const char *parse_rlimit_name(int resource);
/* NAME=SOFT[:HARD]: SOFT and HARD are numbers, "unlimited"/"infinity"
 * (FORKD_RLIM_INFINITY) and, for byte limits, sizes. HARD omitted: the
 * same as SOFT. SOFT must not be above HARD. */
int	parse_rlimit(const char *, struct forkd_rlimit *ret, char *err,
	    size_t errlen);

/* A CPU list "0,2-3,8": sorted, without duplicates, into cpus (room for
 * max entries); each CPU below limit. */
int	parse_cpus(const char *, int *cpus, size_t max, int limit,
	    size_t *ret_n, char *err, size_t errlen);
/* "pid,mount,net,ipc,uts,user" (also "mnt", "network", "all") into
 * FORKD_NS_* bits. */
int	parse_namespaces(const char *, unsigned int *ret, char *err,
	    size_t errlen);
/* QUOTA[/PERIOD] in microseconds for cpu.max; PERIOD omitted: 0 (the
 * daemon's 100000). QUOTA >= 1000, PERIOD 1000..1000000. */
int	parse_cpu_max(const char *, uint32_t *ret_quota, uint32_t *ret_period,
	    char *err, size_t errlen);

/* A user name or a numeric uid. ret_gid (may be NULL) gets the user's
 * primary group, or (gid_t)-1 when the uid has no passwd entry; ret_name
 * (may be NULL, len namelen) the user name or "". */
int	parse_user(const char *, uid_t *ret_uid, gid_t *ret_gid,
	    char *ret_name, size_t namelen, char *err, size_t errlen);
/* A group name or a numeric gid. */
int	parse_group(const char *, gid_t *ret, char *err, size_t errlen);
/* A comma-separated list of groups (names or gids; "" is none) into
 * groups (room for max). */
int	parse_groups(const char *, gid_t *groups, size_t max, size_t *ret_n,
	    char *err, size_t errlen);

/* Where a child fd goes (spawn --stdin/--stdout/--stderr/--fd). */
enum parse_io_kind {
	PARSE_IO_INHERIT,	/* forkctl's own fd of that number */
	PARSE_IO_NULL,		/* /dev/null */
	PARSE_IO_FILE,		/* a file forkctl opens */
	PARSE_IO_KIND_MAX
};
struct parse_io {
	enum parse_io_kind	 kind;
	int			 flags;	/* open(2) flags for PARSE_IO_FILE */
	const char		*path;	/* in the parsed string */
};
/* SPEC: "null", "inherit", "<FILE" (read), ">FILE" (write, created or
 * truncated), ">>FILE" (append, created), "<>FILE" (read and write,
 * created, not truncated), or FILE, opened for reading when in is set
 * (stdin) and else as ">FILE". A file named "null" or "inherit": "./null". */
int	parse_io_spec(const char *, int in, struct parse_io *ret, char *err,
	    size_t errlen);
/* N=SPEC for --fd: N is 3..FORKD_FD_TARGET_MAX (0, 1 and 2 have their own
 * options), SPEC as above with FILE meaning ">FILE". */
int	parse_fd_spec(const char *, int *ret_fd, struct parse_io *ret,
	    char *err, size_t errlen);

#endif
