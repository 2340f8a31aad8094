/* config.h: forkd settings from the command line and the config file. */
#ifndef FORKD_CONFIG_H
#define FORKD_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define CONFIG_MODULES_MAX	32

/* Limits that SIGHUP may change while running. */
struct config_limits {
	unsigned int	max_connections;
	unsigned int	max_children;
	unsigned int	max_frame;
	unsigned int	handshake_timeout_ms;
	unsigned int	max_argv;
	unsigned int	max_env;
	unsigned int	max_fds;
	unsigned int	kill_grace_ms;
};

struct config {
	char			*socket_path;
	mode_t			 socket_mode;
	char			*key_file;
	char			*modules[CONFIG_MODULES_MAX];	/* PATH[:OPTS] */
	size_t			 n_modules;
	int			 log_level;
	struct config_limits	 limits;
	/* Which settings came from the command line (they win over the file). */
	unsigned int		 cli_set;
};

#define CONFIG_CLI_SOCKET	0x01
#define CONFIG_CLI_KEY		0x02
#define CONFIG_CLI_MODULES	0x04
#define CONFIG_CLI_LOGLEVEL	0x08
#define CONFIG_CLI_MODE		0x10

void	config_init(struct config *);
void	config_free(struct config *);
/* Set one "section.key" from text; errbuf says why on failure. Returns 0 or
 * -EINVAL / -ENOENT (unknown key) / -E2BIG (too many modules). */
int	config_set(struct config *, const char *section, const char *key,
	    const char *value, char *errbuf, size_t errlen);
/* Read an INI file. Settings in cli_set are not overridden. Returns 0 or a
 * negative code with a "FILE:LINE: reason" message in errbuf. */
int	config_load_file(struct config *, const char *path, char *errbuf,
	    size_t errlen);
/* Read only the [limits] section and log_level from path into *ret_limits
 * and *ret_level (for SIGHUP). */
int	config_reload_limits(const char *path, struct config_limits *ret_limits,
	    int *ret_level, char *errbuf, size_t errlen);
/* Check cross-field rules after loading. */
int	config_validate(const struct config *, char *errbuf, size_t errlen);

#endif
