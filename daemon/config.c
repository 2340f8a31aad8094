/* config.c: defaults, INI parsing (inih) and validation of settings. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "forkd_limits.h"
#include "log.h"
#include "textfile.h"
#include "wire.h"

/* One [limits] key: name, offset, bounds. */
struct config_limit_def {
	const char	*name;
	size_t		 off;
	unsigned int	 min;
	unsigned int	 max;
};

#define LIM(n, lo, hi) { #n, offsetof(struct config_limits, n), lo, hi }
static const struct config_limit_def config_limit_defs[] = {
	LIM(max_connections, 1, 65536),
	LIM(max_children, 1, 1048576),
	LIM(max_frame, 1024, WIRE_FRAME_HARD_MAX),
	LIM(handshake_timeout_ms, 10, 600000),
	LIM(max_argv, 1, LIMIT_ARGV_MAX),
	LIM(max_env, 0, LIMIT_ENV_MAX),
	LIM(max_fds, 0, WIRE_MAX_FDS),
	LIM(kill_grace_ms, 0, 600000),
	LIM(pool_max, 0, 256),
	LIM(pool_min, 0, 256),
	LIM(max_children_per_uid, 1, 1048576),
	LIM(max_spawn_rate, 0, 1000000),
	LIM(idle_timeout_ms, 0, 86400000),
	LIM(max_handshakes_per_uid, 1, 65536),
	LIM(max_connections_per_uid, 1, 65536),
};
#undef LIM

/* Built-in defaults. */
void
config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->socket_mode = 0600;
	c->socket_gid = (gid_t)-1;
	c->log_level = LOG_LVL_INFO;
	c->limits.max_connections = 64;
	c->limits.max_children = 1024;
	c->limits.max_frame = WIRE_FRAME_DEFAULT_MAX;
	c->limits.handshake_timeout_ms = 5000;
	c->limits.max_argv = LIMIT_ARGV_MAX;
	c->limits.max_env = LIMIT_ENV_MAX;
	c->limits.max_fds = WIRE_MAX_FDS;
	c->limits.kill_grace_ms = 2000;
	c->spawn_cpu = -1;
	c->limits.pool_max = 8;
	c->limits.pool_min = 4;
	c->limits.max_children_per_uid = 256;
	c->limits.max_spawn_rate = 0;	/* off: a share between uids */
	c->limits.idle_timeout_ms = 0;
	c->limits.max_handshakes_per_uid = 16;
	c->limits.max_connections_per_uid = 32;
	c->policy.allow_exec = 1;
}

/* Free a policy's lists; what is left allows everything. */
void
config_policy_free(struct config_policy *p)
{
	for (size_t i = 0; i < p->n_targets; i++)
		free(p->targets[i]);
	free(p->targets);
	for (size_t i = 0; i < p->n_exec_paths; i++)
		free(p->exec_paths[i]);
	free(p->exec_paths);
	free(p->uids);
	free(p->identity_uids);
	for (size_t i = 0; i < p->n_env; i++)
		free(p->env[i]);
	free(p->env);
	memset(p, 0, sizeof *p);
	p->allow_exec = 1;
}

void
config_free(struct config *c)
{
	free(c->socket_path);
	free(c->key_file);
	free(c->cgroup_root);
	for (size_t i = 0; i < c->n_modules; i++)
		free(c->modules[i]);
	config_policy_free(&c->policy);
	memset(c, 0, sizeof *c);
}

/* Parse an unsigned decimal within [min, max]. */
static int
config_parse_uint(const char *s, unsigned int min, unsigned int max,
    unsigned int *ret)
{
	char		*end;
	unsigned long	 v;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

/* Replace a string setting. */
static int
config_strset(char **dst, const char *value)
{
	char *s = strdup(value);

	if (s == NULL)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int
config_set_limit(struct config_limits *l, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < sizeof config_limit_defs /
	    sizeof config_limit_defs[0]; i++) {
		const struct config_limit_def *d = &config_limit_defs[i];

		if (strcmp(key, d->name) != 0)
			continue;
		if (config_parse_uint(value, d->min, d->max,
		    (unsigned int *)((char *)l + d->off)) != 0) {
			snprintf(errbuf, errlen, "limits.%s: '%s' is not a "
			    "number from %u to %u", key, value, d->min, d->max);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(errbuf, errlen, "unknown setting limits.%s", key);
	return -ENOENT;
}

/* Parse yes/no, true/false, on/off, 1/0. */
static int
config_parse_bool(const char *s, int *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* Next item of a list separated by blanks or commas: 1 and the item in
 * tok, 0 at the end, -ENAMETOOLONG for an item that does not fit. */
static int
config_list_next(const char **pp, char *tok, size_t toklen)
{
	const char	*p = *pp;
	size_t		 n;

	p += strspn(p, " \t,");
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	n = strcspn(p, " \t,");
	*pp = p + n;
	if (n >= toklen)
		return -ENAMETOOLONG;
	memcpy(tok, p, n);
	tok[n] = '\0';
	return 1;
}

/* Number of items in a list value. */
static size_t
config_list_count(const char *value)
{
	size_t n = 0;

	for (value += strspn(value, " \t,"); *value != '\0';
	    value += strspn(value, " \t,")) {
		value += strcspn(value, " \t,");
		n++;
	}
	return n;
}

/* Check one allow_targets pattern: "*" or MODULE:ENTRY with '*'s. */
static int
config_norm_target(const char *item, char *out, size_t outlen, char *errbuf,
    size_t errlen)
{
	const char *colon = strchr(item, ':');

	for (const char *q = item; *q != '\0'; q++) {
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			snprintf(errbuf, errlen, "policy.allow_targets: "
			    "pattern with a control or non-ASCII byte");
			return -EINVAL;
		}
	}
	if (item[0] == '/') {
		snprintf(errbuf, errlen, "policy.allow_targets: '%s' is a "
		    "path; allow_exec and allow_exec_paths govern path targets",
		    item);
		return -EINVAL;
	}
	if (strcmp(item, "*") != 0 && (colon == NULL || colon == item ||
	    colon[1] == '\0')) {
		snprintf(errbuf, errlen, "policy.allow_targets: '%s' is not a "
		    "MODULE:ENTRY pattern (like pi:* or bench:noop, or * for "
		    "all)", item);
		return -EINVAL;
	}
	snprintf(out, outlen, "%s", item);
	return 0;
}

/* Check one allow_env pattern: a variable name, '*' wildcards allowed. */
static int
config_norm_env(const char *item, char *out, size_t outlen, char *errbuf,
    size_t errlen)
{
	for (const char *q = item; *q != '\0'; q++) {
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f ||
		    *q == '=') {
			snprintf(errbuf, errlen, "policy.allow_env: pattern "
			    "with '=', a control or a non-ASCII byte (name "
			    "patterns only, like LANG or LC_*)");
			return -EINVAL;
		}
	}
	snprintf(out, outlen, "%s", item);
	return 0;
}

/* Canonicalize one allow_exec_paths entry: an existing file, or an
 * existing directory written with a trailing '/'. */
static int
config_norm_path(const char *item, char *out, size_t outlen, char *errbuf,
    size_t errlen)
{
	char		real[PATH_MAX];
	struct stat	st;
	size_t		len = strlen(item);
	int		dir = len > 0 && item[len - 1] == '/';

	if (item[0] != '/') {
		snprintf(errbuf, errlen, "policy.allow_exec_paths: '%s' is not "
		    "an absolute path", item);
		return -EINVAL;
	}
	if (realpath(item, real) == NULL || stat(real, &st) != 0) {
		int err = errno;

		snprintf(errbuf, errlen, "policy.allow_exec_paths: %s: %s",
		    item, strerror(err));
		return -err;
	}
	if (S_ISDIR(st.st_mode) && !dir) {
		snprintf(errbuf, errlen, "policy.allow_exec_paths: %s is a "
		    "directory: write %s/ to allow the programs in it", item,
		    item);
		return -EISDIR;
	}
	if (!S_ISDIR(st.st_mode) && dir) {
		snprintf(errbuf, errlen, "policy.allow_exec_paths: %s is not a "
		    "directory", item);
		return -ENOTDIR;
	}
	if ((size_t)snprintf(out, outlen, "%s%s", real, dir &&
	    strcmp(real, "/") != 0 ? "/" : "") >= outlen) {
		snprintf(errbuf, errlen, "policy.allow_exec_paths: %s: path "
		    "too long", item);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Append the items of a list value to a string list, all or none. */
static int
config_list_add(char ***list, size_t *n, const char *key, const char *value,
    int (*norm)(const char *, char *, size_t, char *, size_t),
    char *errbuf, size_t errlen)
{
	char		 tok[PATH_MAX], item[PATH_MAX + 2];
	char		**l;
	const char	*p = value;
	size_t		 add = config_list_count(value), k = 0;
	int		 r;

	if (add > CONFIG_POLICY_MAX - *n) {
		snprintf(errbuf, errlen, "policy.%s: at most %d entries", key,
		    CONFIG_POLICY_MAX);
		return -E2BIG;
	}
	if (add == 0)
		return 0;
	if ((l = reallocarray(*list, *n + add, sizeof *l)) == NULL)
		return -ENOMEM;
	*list = l;
	while ((r = config_list_next(&p, tok, sizeof tok)) != 0) {
		if (r < 0) {
			snprintf(errbuf, errlen, "policy.%s: entry longer than "
			    "%zu bytes", key, sizeof tok - 1);
			goto fail;
		}
		if ((r = norm(tok, item, sizeof item, errbuf, errlen)) != 0)
			goto fail;
		if ((l[*n + k] = strdup(item)) == NULL) {
			snprintf(errbuf, errlen, "policy.%s: out of memory",
			    key);
			r = -ENOMEM;
			goto fail;
		}
		k++;
	}
	*n += k;
	return 0;
fail:
	while (k > 0)
		free(l[*n + --k]);
	return r;
}

/* Append the users of an allow_uids or allow_identity value (numbers or
 * names looked up now) to *list, all or none. */
static int
config_uids_add(uid_t **list, size_t *n, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	char		 tok[256];
	const char	*p = value;
	size_t		 add = config_list_count(value), k = 0;
	uid_t		*u;
	int		 r;

	if (add > CONFIG_POLICY_MAX - *n) {
		snprintf(errbuf, errlen, "policy.%s: at most %d entries", key,
		    CONFIG_POLICY_MAX);
		return -E2BIG;
	}
	if (add == 0)
		return 0;
	if ((u = reallocarray(*list, *n + add, sizeof *u)) == NULL)
		return -ENOMEM;
	*list = u;
	while ((r = config_list_next(&p, tok, sizeof tok)) != 0) {
		unsigned long long	 v;
		struct passwd		*pw;
		char			*end;

		if (r < 0) {
			snprintf(errbuf, errlen, "policy.%s: entry longer than "
			    "%zu bytes", key, sizeof tok - 1);
			return -EINVAL;
		}
		if (tok[0] >= '0' && tok[0] <= '9') {
			errno = 0;
			v = strtoull(tok, &end, 10);
			if (errno != 0 || *end != '\0' || v >= UINT32_MAX) {
				snprintf(errbuf, errlen, "policy.%s: '%s' is "
				    "not a uid", key, tok);
				return -EINVAL;
			}
			u[*n + k++] = (uid_t)v;
			continue;
		}
		errno = 0;
		if ((pw = getpwnam(tok)) == NULL) {
			snprintf(errbuf, errlen, "policy.%s: no user '%s'%s%s",
			    key, tok, errno != 0 ? ": " : "",
			    errno != 0 ? strerror(errno) : "");
			return -EINVAL;
		}
		u[*n + k++] = pw->pw_uid;
	}
	*n += k;
	return 0;
}

/* Set one [policy] key. */
static int
config_set_policy(struct config_policy *pol, const char *key,
    const char *value, char *errbuf, size_t errlen)
{
	int r;

	if (strcmp(key, "allow_exec") == 0) {
		if (config_parse_bool(value, &pol->allow_exec) != 0) {
			snprintf(errbuf, errlen, "policy.allow_exec: '%s' is "
			    "not yes or no", value);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(key, "allow_targets") == 0) {
		r = config_list_add(&pol->targets, &pol->n_targets, key, value,
		    config_norm_target, errbuf, errlen);
		if (r == 0)
			pol->targets_set = 1;
		return r;
	}
	if (strcmp(key, "allow_exec_paths") == 0) {
		r = config_list_add(&pol->exec_paths, &pol->n_exec_paths, key,
		    value, config_norm_path, errbuf, errlen);
		if (r == 0)
			pol->exec_paths_set = 1;
		return r;
	}
	if (strcmp(key, "allow_uids") == 0) {
		r = config_uids_add(&pol->uids, &pol->n_uids, key, value,
		    errbuf, errlen);
		if (r == 0)
			pol->uids_set = 1;
		return r;
	}
	if (strcmp(key, "allow_env") == 0) {
		r = config_list_add(&pol->env, &pol->n_env, key, value,
		    config_norm_env, errbuf, errlen);
		if (r == 0)
			pol->env_set = 1;
		return r;
	}
	if (strcmp(key, "allow_identity") == 0)
		return config_uids_add(&pol->identity_uids,
		    &pol->n_identity_uids, key, value, errbuf, errlen);
	snprintf(errbuf, errlen, "unknown setting policy.%s", key);
	return -ENOENT;
}

/* Is the n bytes at name a section config_set() takes? The empty one is
 * what comes before any [section]: [forkd]'s settings. */
static int
config_section_known(const char *name, size_t n)
{
	static const char *const known[] = { "forkd", "limits", "policy" };

	if (n == 0)
		return 1;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i]) == n && memcmp(name, known[i], n) == 0)
			return 1;
	return 0;
}

/* [forkd] socket and key_file: a path, not empty. */
static int
config_set_path(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	if (value[0] == '\0') {
		snprintf(errbuf, errlen, "%s: empty path", key);
		return -EINVAL;
	}
	return config_strset(strcmp(key, "socket") == 0 ? &c->socket_path :
	    &c->key_file, value);
}

/* [forkd] socket_mode: octal, at most 0777. */
static int
config_set_socket_mode(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	char		*end;
	unsigned long	 m;

	(void)key;
	errno = 0;
	m = strtoul(value, &end, 8);
	if (errno != 0 || *end != '\0' || value[0] == '\0' || m > 0777) {
		snprintf(errbuf, errlen, "socket_mode: '%s' is not an "
		    "octal mode like 0660", value);
		return -EINVAL;
	}
	c->socket_mode = (mode_t)m;
	return 0;
}

/* [forkd] socket_group: a group name, or a number that names no group. */
static int
config_set_socket_group(struct config *c, const char *key,
    const char *value, char *errbuf, size_t errlen)
{
	struct group	 gr, *res = NULL;
	char		 gbuf[4096];
	unsigned int	 gid;

	(void)key;
	if (value[0] != '\0' && getgrnam_r(value, &gr, gbuf,
	    sizeof gbuf, &res) == 0 && res != NULL) {
		c->socket_gid = res->gr_gid;
		return 0;
	}
	if (config_parse_uint(value, 0, UINT_MAX - 1, &gid) != 0) {
		snprintf(errbuf, errlen, "socket_group: '%s' is neither "
		    "a group name nor a numeric gid", value);
		return -EINVAL;
	}
	c->socket_gid = (gid_t)gid;
	return 0;
}

/* [forkd] module: one more, up to CONFIG_MODULES_MAX. */
static int
config_set_module(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	(void)key;
	if (value[0] == '\0') {
		snprintf(errbuf, errlen, "module: empty path");
		return -EINVAL;
	}
	if (c->n_modules >= CONFIG_MODULES_MAX) {
		snprintf(errbuf, errlen, "module: at most %d modules",
		    CONFIG_MODULES_MAX);
		return -E2BIG;
	}
	if ((c->modules[c->n_modules] = strdup(value)) == NULL)
		return -ENOMEM;
	c->n_modules++;
	return 0;
}

/* [forkd] cgroup_root: auto | none | an absolute path (under the cgroup2
 * mount; checked at start, where the mount is known). */
static int
config_set_cgroup_root(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	(void)key;
	if (strcmp(value, "auto") != 0 && strcmp(value, "none") != 0 &&
	    (value[0] != '/' || strlen(value) >= 4096 ||
	    strstr(value, "/../") != NULL ||
	    (strlen(value) >= 3 &&
	    strcmp(value + strlen(value) - 3, "/..") == 0))) {
		snprintf(errbuf, errlen, "cgroup_root: '%s' is not auto, "
		    "none or an absolute path", value);
		return -EINVAL;
	}
	return config_strset(&c->cgroup_root, value);
}

/* [forkd] spawn_cpu: none or a CPU number. */
static int
config_set_spawn_cpu(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	unsigned int cpu;

	(void)key;
	if (strcmp(value, "none") == 0) {
		c->spawn_cpu = -1;
		return 0;
	}
	if (config_parse_uint(value, 0, CPU_SETSIZE - 1, &cpu) != 0) {
		snprintf(errbuf, errlen, "spawn_cpu: '%s' is not none or "
		    "a CPU number below %d", value, CPU_SETSIZE);
		return -EINVAL;
	}
	c->spawn_cpu = (int)cpu;
	return 0;
}

/* [forkd] log_level: a level's name. */
static int
config_set_log_level(struct config *c, const char *key, const char *value,
    char *errbuf, size_t errlen)
{
	int r;

	(void)key;
	if ((r = log_level_parse(value)) < 0) {
		snprintf(errbuf, errlen, "log_level: '%s' is not one of "
		    "err, warning, notice, info, debug", value);
		return -EINVAL;
	}
	c->log_level = r;
	return 0;
}

/* The [forkd] settings (also what comes before any [section]). */
static const struct config_setting {
	const char	*cs_key;
	int		(*cs_set)(struct config *, const char *key,
			    const char *value, char *errbuf, size_t errlen);
} config_settings[] = {
	{ "socket",	  config_set_path },
	{ "key_file",	  config_set_path },
	{ "socket_mode",  config_set_socket_mode },
	{ "socket_group", config_set_socket_group },
	{ "module",	  config_set_module },
	{ "cgroup_root",  config_set_cgroup_root },
	{ "spawn_cpu",	  config_set_spawn_cpu },
	{ "log_level",	  config_set_log_level },
};

/* Set one setting from its text form. */
int
config_set(struct config *c, const char *section, const char *key,
    const char *value, char *errbuf, size_t errlen)
{
	if (!config_section_known(section, strlen(section))) {
		snprintf(errbuf, errlen, "unknown section [%s]", section);
		return -ENOENT;
	}
	if (strcmp(section, "limits") == 0)
		return config_set_limit(&c->limits, key, value, errbuf, errlen);
	if (strcmp(section, "policy") == 0)
		return config_set_policy(&c->policy, key, value, errbuf,
		    errlen);
	for (size_t i = 0; i < sizeof config_settings /
	    sizeof config_settings[0]; i++)
		if (strcmp(key, config_settings[i].cs_key) == 0)
			return config_settings[i].cs_set(c, key, value, errbuf,
			    errlen);
	snprintf(errbuf, errlen, "unknown setting %s%s%s",
	    section[0] ? section : "", section[0] ? "." : "", key);
	return -ENOENT;
}

struct config_parse_ctx {
	struct config	*c;
	struct config	*scratch;	/* checks what the command line overrides */
	char		*errbuf;
	size_t		 errlen;
	int		 error;
	int		 only_limits;
};

/* inih callback: returns nonzero to continue. */
static int
config_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_parse_ctx	*ctx = user;
	struct config		*c = ctx->c;
	unsigned int		 cli = c->cli_set;
	int			 r;

	if (ctx->error != 0)
		return 0;
	if (strcmp(section, "forkd") == 0 || section[0] == '\0') {
		if (ctx->only_limits && strcmp(name, "log_level") != 0)
			return 1;
		/* Overridden by the command line: checked all the same (a
		 * bad file is bad with or without -q), then dropped. */
		if ((strcmp(name, "socket") == 0 && (cli & CONFIG_CLI_SOCKET)) ||
		    (strcmp(name, "key_file") == 0 && (cli & CONFIG_CLI_KEY)) ||
		    (strcmp(name, "module") == 0 && (cli & CONFIG_CLI_MODULES)) ||
		    (strcmp(name, "log_level") == 0 &&
		    (cli & CONFIG_CLI_LOGLEVEL)) ||
		    (strcmp(name, "socket_mode") == 0 && (cli & CONFIG_CLI_MODE)) ||
		    (strcmp(name, "socket_group") == 0 &&
		    (cli & CONFIG_CLI_GROUP)) ||
		    (strcmp(name, "spawn_cpu") == 0 &&
		    (cli & CONFIG_CLI_SPAWN_CPU)))
			c = ctx->scratch;
	}
	if (strcmp(section, "limits") == 0 && strcmp(name, "pool_max") == 0 &&
	    (cli & CONFIG_CLI_POOL))
		c = ctx->scratch;
	r = config_set(c, section, name, value, ctx->errbuf, ctx->errlen);
	if (r != 0) {
		ctx->error = r;
		return 0;
	}
	return 1;
}

/* inih callback that accepts everything (syntax check pass). */
static int
config_ini_accept(void *user, const char *section, const char *name,
    const char *value)
{
	return 1;
}

#define CONFIG_FILE_MAX		(1024 * 1024)
/* inih reads a line into a buffer of INI_MAX_LINE bytes with its NUL, and
 * takes whatever does not fit for the next line. */
#define CONFIG_LINE_MAX		(INI_MAX_LINE - 1)

/* Lines inih would misread without a word: an indented one (it takes it
 * for the continuation of the previous value) and one longer than its
 * buffer (it splits it in two); and a section forkd does not know, which
 * inih would let pass unless a key follows (and then name that key's
 * line). 0, or the number of the first such line with why said and *code
 * set. */
static int
config_check_lines(const char *text, char *why, size_t whylen, int *code)
{
	int	lineno = 1;

	*code = -EINVAL;

	for (const char *l = text; *l != '\0'; lineno++) {
		const char	*nl = strchr(l, '\n'), *end;
		size_t		 len = nl != NULL ? (size_t)(nl - l) : strlen(l);
		size_t		 lead = strspn(l, " \t");

		if (len > CONFIG_LINE_MAX) {
			snprintf(why, whylen, "line longer than %d bytes (a "
			    "list can go on: a repeated key adds to its list)",
			    CONFIG_LINE_MAX);
			return lineno;
		}
		if (lead > 0 && lead < len && l[lead] != ';' &&
		    l[lead] != '#' && l[lead] != '\r') {
			snprintf(why, whylen, "indented line (settings and "
			    "sections start at the beginning of the line)");
			return lineno;
		}
		if (l[0] == '[' && (end = memchr(l, ']', len)) != NULL &&
		    !config_section_known(l + 1, (size_t)(end - l) - 1)) {
			snprintf(why, whylen, "unknown section [%.*s]",
			    (int)(end - l) - 1, l + 1);
			*code = -ENOENT;
			return lineno;
		}
		if (nl == NULL)
			break;
		l = nl + 1;
	}
	return 0;
}

/* Parse path with inih; map its line-number result to a message. */
static int
config_parse(struct config *c, const char *path, int only_limits, char *errbuf,
    size_t errlen)
{
	struct config		scratch;
	struct config_parse_ctx	ctx = { c, &scratch, errbuf, errlen, 0,
				    only_limits };
	char			inner[512] = "", *text = NULL;
	int			r, code;

	if ((r = textfile_read(path, CONFIG_FILE_MAX, &text, errbuf,
	    errlen)) != 0)
		return r;
	if ((r = config_check_lines(text, inner, sizeof inner, &code)) != 0) {
		snprintf(errbuf, errlen, "%s:%d: %s", path, r, inner);
		free(text);
		return code;
	}
	config_init(&scratch);
	scratch.cli_set = 0;
	ctx.errbuf = inner;
	ctx.errlen = sizeof inner;
	/* inih goes on after a syntax error and reports only its line; find
	 * syntax errors first so a later line's message cannot pose as it. */
	r = ini_parse_string(text, config_ini_accept, NULL);
	if (r > 0) {
		snprintf(errbuf, errlen, "%s:%d: syntax error", path, r);
		r = -EINVAL;
		goto out;
	}
	if (r == 0)
		r = ini_parse_string(text, config_ini_handler, &ctx);
	if (r == -2) {
		snprintf(errbuf, errlen, "%s: out of memory", path);
		r = -ENOMEM;
	} else if (r > 0 && ctx.error != 0) {
		snprintf(errbuf, errlen, "%s:%d: %s", path, r, inner);
		r = ctx.error;
	} else if (r != 0) {
		snprintf(errbuf, errlen, "%s:%d: syntax error", path, r);
		r = -EINVAL;
	}
out:
	config_free(&scratch);
	free(text);
	return r;
}

/* Read a config file over the current settings. */
int
config_load_file(struct config *c, const char *path, char *errbuf,
    size_t errlen)
{
	return config_parse(c, path, 0, errbuf, errlen);
}

/* Re-read limits, policy and log level for SIGHUP; nothing changes on
 * error. */
int
config_reload(const char *path, struct config_limits *ret_limits,
    struct config_policy *ret_policy, int *ret_level, char *errbuf,
    size_t errlen)
{
	struct config	tmp;
	int		r;

	config_init(&tmp);
	r = config_parse(&tmp, path, 1, errbuf, errlen);
	if (r == 0) {
		*ret_limits = tmp.limits;
		*ret_level = tmp.log_level;
		if (ret_policy != NULL) {
			*ret_policy = tmp.policy;
			memset(&tmp.policy, 0, sizeof tmp.policy);
		}
	}
	config_free(&tmp);
	return r;
}

/* Re-read limits and log level only. */
int
config_reload_limits(const char *path, struct config_limits *ret_limits,
    int *ret_level, char *errbuf, size_t errlen)
{
	return config_reload(path, ret_limits, NULL, ret_level, errbuf,
	    errlen);
}

/* Cross-field checks. */
int
config_validate(const struct config *c, char *errbuf, size_t errlen)
{
	if (c->key_file == NULL) {
		snprintf(errbuf, errlen, "no key file: give --key FILE or "
		    "key_file in the config (make one with 'forkctl keygen')");
		return -EINVAL;
	}
	return 0;
}
