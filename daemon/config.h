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
	unsigned int	pool_max;	/* pre-forked children kept (0: off) */
	unsigned int	pool_min;	/* refill when fewer are idle */
	unsigned int	max_children_per_uid;	/* of one client uid */
	unsigned int	max_spawn_rate;	/* per s and client uid; 0: any */
	unsigned int	idle_timeout_ms;	/* 0: never */
	unsigned int	max_handshakes_per_uid;	/* in progress, one uid */
	unsigned int	max_connections_per_uid; /* authenticated, one uid */
};

#define CONFIG_POLICY_MAX	256	/* entries in one [policy] list */

/* [policy]: who may use forkd and which targets a spawn may name. SIGHUP
 * may change it while running. A list never set allows everything; a list
 * set to nothing allows nothing. */
struct config_policy {
	int		  allow_exec;		/* path targets at all */
	int		  targets_set;
	char		**targets;		/* MODULE:ENTRY, '*' */
	size_t		  n_targets;
	int		  exec_paths_set;
	char		**exec_paths;		/* canonical, dirs/ */
	size_t		  n_exec_paths;
	int		  uids_set;
	uid_t		 *uids;
	size_t		  n_uids;
	/* allow_identity: client uids that may ask for a uid/gid/groups
	 * change (only honoured when forkd runs as root). Never set: none. */
	uid_t		 *identity_uids;
	size_t		  n_identity_uids;
	/* allow_env: patterns of variable names a client may set ('*');
	 * never set: any name, except the unsafe ones while targets or exec
	 * paths are restricted (policy_env_check). */
	int		  env_set;
	char		**env;
	size_t		  n_env;
};

struct config {
	char			*socket_path;
	mode_t			 socket_mode;
	/* [forkd] socket_group: group of the socket file, (gid_t)-1 when not
	 * set (forkd's own). Unused under socket activation. */
	gid_t			 socket_gid;
	char			*key_file;
	char			*modules[CONFIG_MODULES_MAX];	/* PATH[:OPTS] */
	size_t			 n_modules;
	int			 log_level;
	struct config_limits	 limits;
	struct config_policy	 policy;
	/* [forkd] cgroup_root: cgroup v2 directory under which per-spawn
	 * cgroups are made: NULL or "auto" (forkd's own cgroup, moving forkd
	 * into a "forkd" leaf when it must), "none" (cgroup spawns refused),
	 * or an absolute path under the cgroup2 mount. Not reloaded. */
	char			*cgroup_root;
	/* [forkd] spawn_cpu: the one CPU forkd, its zygote and its idle pool
	 * children run on (children get forkd's own affinity back before
	 * their target), or -1 ("none", the default). Not reloaded. */
	int			 spawn_cpu;
	/* Which settings came from the command line (they win over the file). */
	unsigned int		 cli_set;
};

#define CONFIG_CLI_SOCKET	0x01
#define CONFIG_CLI_KEY		0x02
#define CONFIG_CLI_MODULES	0x04
#define CONFIG_CLI_LOGLEVEL	0x08
#define CONFIG_CLI_MODE		0x10
#define CONFIG_CLI_POOL		0x20
#define CONFIG_CLI_SPAWN_CPU	0x40
#define CONFIG_CLI_GROUP	0x80

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
/* Read [limits], [policy] and log_level from path (for SIGHUP). On success
 * the outputs are replaced (*ret_policy is overwritten, not freed); on
 * failure they are untouched. */
int	config_reload(const char *path, struct config_limits *ret_limits,
	    struct config_policy *ret_policy, int *ret_level, char *errbuf,
	    size_t errlen);
/* Free the lists of a policy and reset it to the defaults. */
void	config_policy_free(struct config_policy *);
/* Check cross-field rules after loading. */
int	config_validate(const struct config *, char *errbuf, size_t errlen);

#endif
