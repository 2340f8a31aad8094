/* config.c: defaults, INI parsing (inih) and validation of settings. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "forkd_limits.h"
#include "log.h"
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
};
#undef LIM

/* Built-in defaults. */
void
config_init(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->socket_mode = 0600;
	c->log_level = LOG_LVL_INFO;
	c->limits.max_connections = 64;
	c->limits.max_children = 1024;
	c->limits.max_frame = WIRE_FRAME_DEFAULT_MAX;
	c->limits.handshake_timeout_ms = 5000;
	c->limits.max_argv = LIMIT_ARGV_MAX;
	c->limits.max_env = LIMIT_ENV_MAX;
	c->limits.max_fds = WIRE_MAX_FDS;
	c->limits.kill_grace_ms = 2000;
}

void
config_free(struct config *c)
{
	free(c->socket_path);
	free(c->key_file);
	for (size_t i = 0; i < c->n_modules; i++)
		free(c->modules[i]);
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

/* Set one setting from its text form. */
int
config_set(struct config *c, const char *section, const char *key,
    const char *value, char *errbuf, size_t errlen)
{
	unsigned int	v;
	int		r;

	if (strcmp(section, "limits") == 0)
		return config_set_limit(&c->limits, key, value, errbuf, errlen);
	if (strcmp(section, "forkd") != 0 && section[0] != '\0') {
		snprintf(errbuf, errlen, "unknown section [%s]", section);
		return -ENOENT;
	}
	if (strcmp(key, "socket") == 0) {
		if (value[0] == '\0') {
			snprintf(errbuf, errlen, "socket: empty path");
			return -EINVAL;
		}
		return config_strset(&c->socket_path, value);
	}
	if (strcmp(key, "key_file") == 0) {
		if (value[0] == '\0') {
			snprintf(errbuf, errlen, "key_file: empty path");
			return -EINVAL;
		}
		return config_strset(&c->key_file, value);
	}
	if (strcmp(key, "socket_mode") == 0) {
		char		*end;
		unsigned long	 m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (errno != 0 || *end != '\0' || value[0] == '\0' ||
		    m > 0777) {
			snprintf(errbuf, errlen, "socket_mode: '%s' is not an "
			    "octal mode like 0660", value);
			return -EINVAL;
		}
		c->socket_mode = (mode_t)m;
		return 0;
	}
	if (strcmp(key, "module") == 0) {
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
	if (strcmp(key, "log_level") == 0) {
		if ((r = log_level_parse(value)) < 0) {
			snprintf(errbuf, errlen, "log_level: '%s' is not one of "
			    "err, warning, notice, info, debug", value);
			return -EINVAL;
		}
		c->log_level = r;
		return 0;
	}
	(void)v;
	snprintf(errbuf, errlen, "unknown setting %s%s%s",
	    section[0] ? section : "", section[0] ? "." : "", key);
	return -ENOENT;
}

struct config_parse_ctx {
	struct config	*c;
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
		if ((strcmp(name, "socket") == 0 && (cli & CONFIG_CLI_SOCKET)) ||
		    (strcmp(name, "key_file") == 0 && (cli & CONFIG_CLI_KEY)) ||
		    (strcmp(name, "module") == 0 && (cli & CONFIG_CLI_MODULES)) ||
		    (strcmp(name, "log_level") == 0 &&
		    (cli & CONFIG_CLI_LOGLEVEL)) ||
		    (strcmp(name, "socket_mode") == 0 && (cli & CONFIG_CLI_MODE)))
			return 1;
	}
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

/* Parse path with inih; map its line-number result to a message. */
static int
config_parse(struct config *c, const char *path, int only_limits, char *errbuf,
    size_t errlen)
{
	struct config_parse_ctx	ctx = { c, errbuf, errlen, 0, only_limits };
	char			inner[512] = "";
	int			r;

	ctx.errbuf = inner;
	ctx.errlen = sizeof inner;
	/* inih goes on after a syntax error and reports only its line; find
	 * syntax errors first so a later line's message cannot pose as it. */
	r = ini_parse(path, config_ini_accept, NULL);
	if (r > 0) {
		snprintf(errbuf, errlen, "%s:%d: syntax error", path, r);
		return -EINVAL;
	}
	if (r == 0)
		r = ini_parse(path, config_ini_handler, &ctx);
	if (r == -1) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -errno ? -errno : -ENOENT;
	}
	if (r == -2) {
		snprintf(errbuf, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (r > 0) {
		if (ctx.error != 0) {
			snprintf(errbuf, errlen, "%s:%d: %s", path, r, inner);
			return ctx.error;
		}
		snprintf(errbuf, errlen, "%s:%d: syntax error", path, r);
		return -EINVAL;
	}
	return 0;
}

/* Read a config file over the current settings. */
int
config_load_file(struct config *c, const char *path, char *errbuf,
    size_t errlen)
{
	return config_parse(c, path, 0, errbuf, errlen);
}

/* Re-read limits and log level for SIGHUP; nothing changes on error. */
int
config_reload_limits(const char *path, struct config_limits *ret_limits,
    int *ret_level, char *errbuf, size_t errlen)
{
	struct config	tmp;
	int		r;

	config_init(&tmp);
	r = config_parse(&tmp, path, 1, errbuf, errlen);
	if (r == 0) {
		*ret_limits = tmp.limits;
		*ret_level = tmp.log_level;
	}
	config_free(&tmp);
	return r;
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
