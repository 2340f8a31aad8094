/* policy.c: the [policy] checks on uids and spawn targets.
 *
 * The lists come from config.c, already checked and, for exec paths,
 * canonicalized. Everything here runs in the parent, before fork().
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

/* realpath(3) of path into buf (PATH_MAX bytes) by one path walk in the
 * kernel: open it O_PATH and read the /proc/self/fd link. glibc's
 * realpath() walks the path again for each of its components, and this
 * runs in forkd's event loop: a 4 KB path of 2,000 components held it
 * for 120-220 ms per spawn request (0.2-0.3 ms this way). realpath() where /proc is missing. */
static int
policy_resolve(const char *path, char *buf)
{
	char	link[64];
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, PATH_MAX - 1);
	close(fd);
	if (n > 0 && n < PATH_MAX - 1 && buf[0] == '/') {
		buf[n] = '\0';
		return 0;
	}
	return realpath(path, buf) != NULL ? 0 : -errno;
}

/* allow_exec, then allow_exec_paths on the resolved path. */
int
policy_exec_check(const struct config_policy *p, const char *path,
    char *buf, const char **ret_exec, char *errbuf, size_t errlen)
{
	char	esc[256];
	int	err;

	log_escape(esc, sizeof esc, path, strlen(path));
	if (!p->allow_exec) {
		snprintf(errbuf, errlen, "exec target %s: exec targets are not "
		    "allowed (policy allow_exec = no)", esc);
		return -EPERM;
	}
	if (!p->exec_paths_set) {
		*ret_exec = path;
		return 0;
	}
	if ((err = -policy_resolve(path, buf)) != 0) {
		/* Say why only for a path the policy would allow as written,
		 * so that nobody learns what exists outside those places. */
		if (policy_path_listed(p, path)) {
			snprintf(errbuf, errlen, "exec target %s: %s", esc,
			    strerror(err));
			return -err;
		}
		snprintf(errbuf, errlen, "exec target %s is not in policy "
		    "allow_exec_paths", esc);
		return -EPERM;
	}
	if (!policy_path_listed(p, buf)) {
		snprintf(errbuf, errlen, "exec target %s is not in policy "
		    "allow_exec_paths", esc);
		return -EPERM;
	}
	*ret_exec = buf;
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
