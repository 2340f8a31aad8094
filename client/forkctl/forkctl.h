/* forkctl.h: shared declarations of the forkctl command-line tool. */
#ifndef FORKCTL_H
#define FORKCTL_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "forkd.h"

/* Exit statuses (see EXIT STATUS in forkctl.1), reserved as docker's:
 * anything else is the child's own status (spawn --wait). */
#define FORKCTL_EXIT_OK		0
#define FORKCTL_EXIT_TIMEOUT	124
#define FORKCTL_EXIT_ERROR	125	/* forkctl or forkd failed: usage,
					 * not running, refused, bad key */
#define FORKCTL_EXIT_USAGE	FORKCTL_EXIT_ERROR
#define FORKCTL_EXIT_CANNOT_RUN	126	/* the target could not be started */
#define FORKCTL_EXIT_NOT_FOUND	127	/* no such target */

/* Option codes of long-only options; short options use their letter. */
enum {
	OPT_SOCKET = 256,
	OPT_KEY,
	OPT_JSON,
	OPT_HELP,
	OPT_VERSION,
	OPT_CLEAR_ENV,
	OPT_ANY,
	OPT_TIMEOUT,
	/* spawn's child set-up */
	OPT_RLIMIT,
	OPT_UMASK,
	OPT_NICE,
	OPT_CPUS,
	OPT_PGROUP,
	OPT_SESSION,
	OPT_KILL_GRACE,
	OPT_UID,
	OPT_GID,
	OPT_GROUPS,
	OPT_NO_NEW_PRIVS,
	OPT_DROP_CAPS,
	OPT_CGROUP,
	OPT_MEMORY_MAX,
	OPT_PIDS_MAX,
	OPT_CPU_MAX,
	OPT_NS,
	OPT_PIDFD,
	/* spawn's stdio (issue 16) */
	OPT_STDIN,
	OPT_STDOUT,
	OPT_STDERR,
	OPT_FD,
	OPT_DETACH,
	OPT_MAX
};

/* Parsed options of one subcommand: every value given, by option code. */
struct args {
	size_t		  a_count[OPT_MAX];
	char		**a_values[OPT_MAX];
	int		  a_argc;	/* positional arguments */
	char		**a_argv;
};

struct forkctl;

/* Command flags. */
#define CMD_STOPARGS	0x1	/* options end at the first argument */
#define CMD_DASHSIG	0x2	/* "-9" / "-KILL" means "-s 9" */

/* One subcommand: the table in forkctl.c lists them all. */
struct forkctl_cmd {
	const char		*name;
	const char		*usage;		/* after "forkctl NAME " */
	int			 lower;		/* positional arguments */
	int			 upper;		/* -1: no limit */
	int			 flags;
	const char		*shortopts;	/* command-specific */
	const struct option	*longopts;	/* NULL-terminated, may be NULL */
	const char		*summary;	/* one line for the command list */
	const char		*help;		/* DESCRIPTION, OPTIONS, EXAMPLES */
	int			(*exec)(struct forkctl *, struct args *);
};

/* State of one forkctl run. */
struct forkctl {
	const char		*fc_socket;	/* NULL: $FORKD_SOCKET / default */
	const char		*fc_key;	/* NULL: $FORKD_KEY_FILE / default */
	int			 fc_json;
	const struct forkctl_cmd *fc_cmd;
	struct forkd		*fc_conn;
};

extern const struct forkctl_cmd cmd_keygen_entry;
extern const struct forkctl_cmd cmd_ping_entry;
extern const struct forkctl_cmd cmd_status_entry;
extern const struct forkctl_cmd cmd_spawn_entry;
extern const struct forkctl_cmd cmd_ps_entry;
extern const struct forkctl_cmd cmd_kill_entry;
extern const struct forkctl_cmd cmd_wait_entry;
extern const struct forkctl_cmd cmd_help_entry;
extern const struct forkctl_cmd cmd_completion_entry;

/* forkctl.c */
int		 forkctl_connect(struct forkctl *);
const char	*forkctl_socket_path(const struct forkctl *);
const char	*forkctl_key_path(const struct forkctl *);
int		 forkctl_error(struct forkctl *, int err, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
int		 forkctl_fail(int status, int err, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
void		 forkctl_set_step(const char *);
void		 forkctl_set_json(int);
void		 forkctl_json_error_defer(void);
void		 forkctl_json_error_flush(void);
const struct forkctl_cmd *const *forkctl_commands(void);
const struct option *forkctl_global_options(void);
void		 forkctl_warnx(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
int		 forkctl_usage_error(const struct forkctl_cmd *,
		    const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void		 forkctl_puts_safe(const char *, FILE *);
size_t		 forkctl_utf8_len(const unsigned char *);
int		 forkctl_parse_child(const char *, pid_t *ret_pid,
		    const char **ret_name);
void		 forkctl_format_duration(uint64_t ms, char *buf, size_t len);
int64_t		 forkctl_now_ms(int realtime);
void		 forkctl_cmd_help(const struct forkctl_cmd *, FILE *);
void		 forkctl_version(void);

/* args.c */
int		 args_has(const struct args *, int opt);
const char	*args_get(const struct args *, int opt);
char *const	*args_values(const struct args *, int opt, size_t *ret_n);
int		 args_parse(struct forkctl *, const struct forkctl_cmd *,
		    int argc, char **argv, struct args *);
void		 args_free(struct args *);

/* signame.c */
int		 signame_parse(const char *, int *ret_sig);
const char	*signame_name(int sig, char *buf, size_t len);

/* json.c: a minimal JSON writer for --json output. */
#define JSON_DEPTH_MAX	8
struct json {
	FILE	*j_f;
	int	 j_depth;
	int	 j_first[JSON_DEPTH_MAX];
	int	 j_after_key;
};
void	json_init(struct json *, FILE *);
void	json_obj_begin(struct json *);
void	json_obj_end(struct json *);
void	json_arr_begin(struct json *);
void	json_arr_end(struct json *);
void	json_key(struct json *, const char *);
void	json_str(struct json *, const char *);
void	json_int(struct json *, long long);
void	json_uint(struct json *, unsigned long long);
void	json_bool(struct json *, int);
void	json_null(struct json *);
void	json_finish(struct json *);
void	json_exit(struct json *, const struct forkd_exit *);
/* " (timed out)", " (OOM-killed)" or "" for an exit record. */
const char *forkctl_exit_note(const struct forkd_exit *);

#endif
