/* policy.c: the [policy] checks on uids and spawn targets.
 *
 * The lists come from config.c, already checked and, for exec paths,
 * canonicalized. Everything here runs in the parent, before fork(), but
 * policy_exec_open() and what it calls (policy_path_listed()), which run
 * in the child and are async-signal-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

/* Match with '*' as the only wildcard (iterative, no recursion). */
int
policy_glob(const char *p, const char *s)
{
	const char *star = NULL, *ss = NULL;

	while (*s != '\0') {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star != NULL) {
			p = star + 1;
			s = ++ss;
		} else
			return 0;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* allow_uids: unset allows every uid. */
int
policy_uid_allowed(const struct config_policy *p, uid_t uid)
{
	if (!p->uids_set)
		return 1;
	for (size_t i = 0; i < p->n_uids; i++)
		if (p->uids[i] == uid)
			return 1;
	return 0;
}

/* allow_identity: unset allows nobody. */
int
policy_identity_allowed(const struct config_policy *p, uid_t uid)
{
	for (size_t i = 0; i < p->n_identity_uids; i++)
		if (p->identity_uids[i] == uid)
			return 1;
	return 0;
}

/* allow_targets: unset allows every module entry. */
int
policy_target_allowed(const struct config_policy *p, const char *target)
{
	if (!p->targets_set)
		return 1;
	for (size_t i = 0; i < p->n_targets; i++)
		if (policy_glob(p->targets[i], target))
			return 1;
	return 0;
}

/* A listed file, or a file directly inside a listed directory. */
int
policy_path_listed(const struct config_policy *p, const char *path)
{
	for (size_t i = 0; i < p->n_exec_paths; i++) {
		const char	*e = p->exec_paths[i];
		size_t		 len = strlen(e);

		if (len > 0 && e[len - 1] == '/') {
			if (strncmp(path, e, len) == 0 && path[len] != '\0' &&
			    strchr(path + len, '/') == NULL)
				return 1;
		} else if (strcmp(path, e) == 0)
			return 1;
	}
	return 0;
}

/* Does path have a "." or ".." component? */
static int
policy_has_dots(const char *path)
{
	for (const char *c = path; *c != '\0'; c++) {
		if (*c != '/')
			continue;
		if (c[1] == '.' && (c[2] == '/' || c[2] == '\0' ||
		    (c[2] == '.' && (c[3] == '/' || c[3] == '\0'))))
			return 1;
	}
	return 0;
}

/* allow_exec, then (allow_exec_paths) the path's spelling; no filesystem
 * access: this runs in forkd's loop, and a path may be on a hung mount
 * (issue 13). The child resolves and checks the rest (policy_exec_open()).
 * "." and ".." components are refused: resolving them would tell whether
 * directories the client cannot read exist. */
int
policy_exec_check(const struct config_policy *p, const char *path,
    char *errbuf, size_t errlen)
{
	char	esc[256];

	log_escape(esc, sizeof esc, path, strlen(path));
	if (!p->allow_exec) {
		snprintf(errbuf, errlen, "exec target %s: exec targets are not "
		    "allowed (policy allow_exec = no)", esc);
		return -EPERM;
	}
	if (p->exec_paths_set && policy_has_dots(path)) {
		policy_exec_refusal(esc, errbuf, errlen);
		return -EPERM;
	}
	return 0;
}

/* The one refusal of allow_exec_paths, whatever the reason (outside the
 * list, a symlink out of it, a component missing or unreadable on the
 * way): errors that differ would tell what exists. */
void
policy_exec_refusal(const char *esc, char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "exec target %s is not in policy "
	    "allow_exec_paths", esc);
}

/* fd as decimal digits after prefix into buf (async-signal-safe). */
static void
policy_fd_path(char *buf, size_t len, int fd)
{
	static const char	prefix[] = "/proc/self/fd/";
	char			digits[12];
	size_t			n = 0, off = sizeof prefix - 1;

	memcpy(buf, prefix, off);
	do {
		digits[n++] = (char)('0' + fd % 10);
		fd /= 10;
	} while (fd > 0 && n < sizeof digits);
	while (n > 0 && off < len - 1)
		buf[off++] = digits[--n];
	buf[off] = '\0';
}

/* In the child (async-signal-safe: open, readlink, close and string
 * compares): open path O_PATH, read where it resolved to from the
 * /proc/self/fd link into buf (PATH_MAX bytes) and check that against
 * allow_exec_paths. Exec'ing that fd (execveat AT_EMPTY_PATH) runs what
 * was checked, so nothing can be swapped in between. */
int
policy_exec_open(const struct config_policy *p, const char *path, char *buf,
    int *ret_fd)
{
	char	link[32];
	ssize_t	n;
	int	fd, err;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
		err = errno;
		/* Its own error only for a name the list allows as written
		 * that is not there (not a symlink whose target is missing:
		 * that would say whether the target exists). */
		if (policy_path_listed(p, path) &&
		    (fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0 &&
		    errno == err)
			return -err;
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	policy_fd_path(link, sizeof link, fd);
	n = readlink(link, buf, PATH_MAX - 1);
	if (n <= 0 || n >= PATH_MAX - 1 || buf[0] != '/') {
		close(fd);
		return -EPERM;
	}
	buf[n] = '\0';
	if (!policy_path_listed(p, buf)) {
		close(fd);
		return -EPERM;
	}
	*ret_fd = fd;
	return 0;
}

/* Append printf output to buf at *off, dropping what does not fit. */
static void __attribute__((format(printf, 4, 5)))
policy_append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (r > 0 && (size_t)r < len - *off)
		*off += (size_t)r;
}

/* Append a list: "any" when unset, "none" when set to nothing. */
static void
policy_append_list(char *buf, size_t len, size_t *off, const char *what,
    int set, char *const *items, size_t n)
{
	policy_append(buf, len, off, "; %s", what);
	if (!set || n == 0)
		policy_append(buf, len, off, " %s", set ? "none" : "any");
	for (size_t i = 0; set && i < n; i++)
		policy_append(buf, len, off, " %s", items[i]);
}

/* One line that says what the policy allows. */
void
policy_log(const struct config_policy *p, const char *when)
{
	char	buf[1024];
	size_t	off = 0;

	policy_append(buf, sizeof buf, &off, "exec targets %s",
	    p->allow_exec ? "allowed" : "refused");
	policy_append_list(buf, sizeof buf, &off, "module targets",
	    p->targets_set, p->targets, p->n_targets);
	if (p->allow_exec)
		policy_append_list(buf, sizeof buf, &off, "exec paths",
		    p->exec_paths_set, p->exec_paths, p->n_exec_paths);
	policy_append(buf, sizeof buf, &off, "; uids");
	if (!p->uids_set || p->n_uids == 0)
		policy_append(buf, sizeof buf, &off, " %s", p->uids_set ?
		    "none" : "any");
	for (size_t i = 0; p->uids_set && i < p->n_uids; i++)
		policy_append(buf, sizeof buf, &off, " %u",
		    (unsigned)p->uids[i]);
	policy_append(buf, sizeof buf, &off, "; identity changes for");
	if (p->n_identity_uids == 0)
		policy_append(buf, sizeof buf, &off, " none");
	for (size_t i = 0; i < p->n_identity_uids; i++)
		policy_append(buf, sizeof buf, &off, " %u",
		    (unsigned)p->identity_uids[i]);
	log_info("policy (%s): %s", when, buf);
}
