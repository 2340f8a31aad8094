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

/* The first allow_targets pattern matching target. */
static const char *
policy_target_rule(const struct config_policy *p, const char *target)
{
	for (size_t i = 0; p->targets_set && i < p->n_targets; i++)
		if (policy_glob(p->targets[i], target))
			return p->targets[i];
	return NULL;
}

/* The first allow_exec_paths entry listing path (as policy_path_listed). */
static const char *
policy_path_rule(const struct config_policy *p, const char *path)
{
	for (size_t i = 0; p->exec_paths_set && i < p->n_exec_paths; i++) {
		const char	*e = p->exec_paths[i];
		size_t		 len = strlen(e);

		if (len > 0 && e[len - 1] == '/' ? strncmp(path, e, len) == 0 &&
		    path[len] != '\0' && strchr(path + len, '/') == NULL :
		    strcmp(path, e) == 0)
			return e;
	}
	return NULL;
}

/* Which rule let a spawn of target run, as text for the audit line. */
void
policy_allowed_by(const struct config_policy *p, const char *target,
    const char *exec_path, char *buf, size_t len)
{
	const char *rule;

	if (exec_path != NULL) {
		/* The child resolves the path and checks it again: the entry
		 * named here is the one the path matches as written. */
		rule = policy_path_rule(p, exec_path);
		if (rule != NULL)
			snprintf(buf, len, "allow_exec_paths %s", rule);
		else if (p->exec_paths_set)
			snprintf(buf, len, "allow_exec_paths (as resolved by "
			    "the child)");
		else
			snprintf(buf, len, "allow_exec = yes, "
			    "allow_exec_paths unset");
	} else if ((rule = policy_target_rule(p, target)) != NULL)
		snprintf(buf, len, "allow_targets %s", rule);
	else
		snprintf(buf, len, "allow_targets unset");
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

/*
 * Variables that change what an allowed program loads or runs, refused by
 * default while the policy restricts targets. glibc's UNSECURE_ENVVARS
 * (sysdeps/generic/unsecvars.h, what ld.so removes for setuid programs)
 * with every LD_* (the loader reads more, LD_BIND_NOT, LD_ASSUME_KERNEL,
 * musl's LD_PRELOAD), the shells' start-up files and exported functions,
 * the interpreters' import paths and option variables, PATH (a script's
 * commands by name) and HOME/XDG_* (per-user start-up files: Python's
 * user site-packages, .gitconfig). '*' matches a run of bytes.
 */
static const char *const policy_unsafe_env[] = {
	/* glibc UNSECURE_ENVVARS, and the loader's LD_* */
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LD_*",
	"LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH",
	"RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
	/* shells */
	"BASH_ENV", "ENV", "BASH_FUNC_*", "SHELLOPTS", "BASHOPTS", "PS4",
	"IFS", "CDPATH", "GLOBIGNORE", "PATH", "HOME", "XDG_*",
	/* interpreters and runtimes */
	"PYTHON*", "PERL*", "RUBY*", "GEM_*", "NODE_*", "JAVA_TOOL_OPTIONS",
	"_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH", "LUA_*",
	"TCLLIBPATH", "PHPRC", "PHP_INI_SCAN_DIR", "OPENSSL_CONF",
	"OPENSSL_ENGINES", "OPENSSL_MODULES", "GIT_*",
};

/* Copy the len bytes of a name to buf (256 bytes); -1 when too long. */
static int
policy_name_copy(char *buf, const char *s, size_t len)
{
	if (len >= 256)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* One of policy_unsafe_env, for a NUL-terminated name? */
static int
policy_env_unsafe_name(const char *name)
{
	for (size_t i = 0; i < sizeof policy_unsafe_env /
	    sizeof policy_unsafe_env[0]; i++)
		if (policy_glob(policy_unsafe_env[i], name))
			return 1;
	return 0;
}

/* One of policy_unsafe_env? A name too long to check counts as unsafe. */
int
policy_env_unsafe(const char *name, size_t len)
{
	char	buf[256];

	if (policy_name_copy(buf, name, len) != 0)
		return 1;
	return policy_env_unsafe_name(buf);
}

/* A module restricts what its entries run (module_any_restricted()). */
static int	policy_module_restricted;

void
policy_set_module_restricted(int on)
{
	policy_module_restricted = on != 0;
}

/* allow_targets or allow_exec_paths set, or a module's own limits. */
int
policy_env_restricted(const struct config_policy *p)
{
	return p->targets_set || p->exec_paths_set || policy_module_restricted;
}

/* Does an allow_env entry name exactly these len bytes (no wildcard)? */
static int
policy_env_named(const struct config_policy *p, const char *name,
    size_t len)
{
	for (size_t i = 0; i < p->n_env; i++)
		if (strlen(p->env[i]) == len &&
		    memcmp(p->env[i], name, len) == 0)
			return 1;
	return 0;
}

/* allow_env patterns; unsafe names need an exact entry when restricted.
 * Each name is copied once, then matched against every pattern. */
int
policy_env_check(const struct config_policy *p, char *const *env, size_t n,
    char *errbuf, size_t errlen)
{
	char	esc[256], name[256];
	int	restricted = policy_env_restricted(p);

	for (size_t i = 0; i < n; i++) {
		const char	*e = env[i];
		size_t		 len = strcspn(e, "=");
		int		 ok = !p->env_set, toolong;

		toolong = policy_name_copy(name, e, len) != 0;
		for (size_t j = 0; !ok && !toolong && j < p->n_env; j++)
			ok = policy_glob(p->env[j], name);
		if (!ok) {
			snprintf(errbuf, errlen, "env[%zu]: variable %s is not "
			    "in policy allow_env", i, log_escape(esc,
			    sizeof esc, e, len));
			return -EPERM;
		}
		if (restricted && (toolong || policy_env_unsafe_name(name)) &&
		    !policy_env_named(p, e, len)) {
			snprintf(errbuf, errlen, "env[%zu]: variable %s may "
			    "change what an allowed target loads or runs: "
			    "refused while the policy restricts targets%s (name "
			    "it in policy allow_env to allow it)", i,
			    log_escape(esc, sizeof esc, e, len),
			    policy_module_restricted ? " or a module does "
			    "(the python module's allow=)" : "");
			return -EPERM;
		}
	}
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
	policy_append_list(buf, sizeof buf, &off, "env names", p->env_set,
	    p->env, p->n_env);
	if (policy_env_restricted(p))
		policy_append(buf, sizeof buf, &off, " (unsafe names only when "
		    "listed by name)");
	policy_append(buf, sizeof buf, &off, "; identity changes for");
	if (p->n_identity_uids == 0)
		policy_append(buf, sizeof buf, &off, " none");
	for (size_t i = 0; i < p->n_identity_uids; i++)
		policy_append(buf, sizeof buf, &off, " %u",
		    (unsigned)p->identity_uids[i]);
	log_info("policy (%s): %s", when, buf);
}
