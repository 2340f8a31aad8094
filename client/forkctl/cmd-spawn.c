/* cmd-spawn.c: forkctl spawn: start a child, optionally wait for it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "forkctl.h"
#include "parse.h"

/* SIGINTs after which spawn --wait sends SIGKILL instead. */
#define CMD_SPAWN_KILL_AFTER	3

static const struct option cmd_spawn_longopts[] = {
	{ "wait",	no_argument,		NULL,	'w' },
	{ "name",	required_argument,	NULL,	'n' },
	{ "daemon",	no_argument,		NULL,	'd' },
	{ "env",	required_argument,	NULL,	'e' },
	{ "clear-env",	no_argument,		NULL,	OPT_CLEAR_ENV },
	{ "cwd",	required_argument,	NULL,	'C' },
	{ "rlimit",	required_argument,	NULL,	OPT_RLIMIT },
	{ "umask",	required_argument,	NULL,	OPT_UMASK },
	{ "nice",	required_argument,	NULL,	OPT_NICE },
	{ "cpus",	required_argument,	NULL,	OPT_CPUS },
	{ "pgroup",	no_argument,		NULL,	OPT_PGROUP },
	{ "session",	no_argument,		NULL,	OPT_SESSION },
	{ "timeout",	required_argument,	NULL,	OPT_TIMEOUT },
	{ "kill-grace",	required_argument,	NULL,	OPT_KILL_GRACE },
	{ "uid",	required_argument,	NULL,	OPT_UID },
	{ "gid",	required_argument,	NULL,	OPT_GID },
	{ "groups",	required_argument,	NULL,	OPT_GROUPS },
	{ "no-new-privs", no_argument,		NULL,	OPT_NO_NEW_PRIVS },
	{ "drop-caps",	no_argument,		NULL,	OPT_DROP_CAPS },
	{ "cgroup",	no_argument,		NULL,	OPT_CGROUP },
	{ "memory-max",	required_argument,	NULL,	OPT_MEMORY_MAX },
	{ "pids-max",	required_argument,	NULL,	OPT_PIDS_MAX },
	{ "cpu-max",	required_argument,	NULL,	OPT_CPU_MAX },
	{ "ns",		required_argument,	NULL,	OPT_NS },
	{ "pidfd",	no_argument,		NULL,	OPT_PIDFD },
	{ "stdin",	required_argument,	NULL,	OPT_STDIN },
	{ "stdout",	required_argument,	NULL,	OPT_STDOUT },
	{ "stderr",	required_argument,	NULL,	OPT_STDERR },
	{ "fd",		required_argument,	NULL,	OPT_FD },
	{ "detach",	no_argument,		NULL,	OPT_DETACH },
	{ NULL,		0,			NULL,	0 }
};

/* What the spawn request is built from; everything here is owned. */
struct spawn_req {
	char		 *target;
	char		 *cwd;
	const char	**argv;
	char		**env;
	size_t		  n_env;
	struct forkd_rlimit rlimits[FORKD_RLIMITS_MAX];
	size_t		  n_rlimits;
	int		  cpus[FORKD_CPUS_MAX];
	size_t		  n_cpus;
	gid_t		  groups[FORKD_GROUPS_MAX];
	size_t		  n_groups;
	/* The child's fds: stdio (-1: /dev/null) and the --fd ones; the
	 * files forkctl opened for them, closed after the spawn. */
	int		  stdio[3];
	int		  fds[FORKD_FDS_MAX];
	int		  fd_targets[FORKD_FDS_MAX];
	size_t		  n_fds;
	int		  opened[FORKD_FDS_MAX + 3];
	size_t		  n_opened;
};

/* Free a spawn_req. */
static void
cmd_spawn_req_free(struct spawn_req *sr)
{
	free(sr->target);
	free(sr->cwd);
	free(sr->argv);
	for (size_t i = 0; i < sr->n_env; i++)
		free(sr->env[i]);
	free(sr->env);
	for (size_t i = 0; i < sr->n_opened; i++)
		close(sr->opened[i]);
}

/* path made absolute against the current directory. */
static char *
cmd_spawn_absolute(const char *path)
{
	char	*cwd, *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return NULL;
	if (asprintf(&out, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd,
	    path) < 0)
		out = NULL;
	free(cwd);
	return out;
}

/* An executable regular file? */
static int
cmd_spawn_is_exec(const char *path)
{
	struct stat	st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/* Look a bare program name up in $PATH; NULL if not found. */
static char *
cmd_spawn_which(const char *prog)
{
	const char	*path = getenv("PATH"), *p, *end;
	char		*cand, *abs;
	size_t		 len;

	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchr(p, ':');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (asprintf(&cand, "%.*s/%s", (int)(len > 0 ? len : 1),
		    len > 0 ? p : ".", prog) < 0)
			return NULL;
		if (cmd_spawn_is_exec(cand)) {
			abs = cmd_spawn_absolute(cand);
			free(cand);
			return abs;
		}
		free(cand);
		if (end == NULL)
			return NULL;
	}
}

/* Resolve TARGET: MODULE:ENTRY stays, a path becomes absolute, a bare
 * name is looked up in $PATH. Returns an exit status on error. */
static int
cmd_spawn_target(struct forkctl *fc, const char *arg, char **ret)
{
	if (arg[0] == '\0')
		return forkctl_usage_error(fc->fc_cmd, "empty TARGET");
	if (arg[0] == '/' || strchr(arg, '/') != NULL)
		*ret = cmd_spawn_absolute(arg);
	else if (strchr(arg, ':') != NULL)
		*ret = strdup(arg);
	else {
		*ret = cmd_spawn_which(arg);
		if (*ret == NULL)
			return forkctl_fail(FORKCTL_EXIT_NOT_FOUND, -ENOENT,
			    "spawn: '%s' is neither MODULE:ENTRY nor a program "
			    "found in $PATH", arg);
	}
	if (*ret == NULL)
		return forkctl_fail(FORKCTL_EXIT_ERROR, -errno, "spawn: %s: %s",
		    arg, strerror(errno));
	return 0;
}

/* Build the request from the command line. */
static int
cmd_spawn_build(struct forkctl *fc, struct args *a, struct spawn_req *sr)
{
	char *const	*envs;
	const char	*val;
	size_t		 n, argc;
	int		 r;

	if ((r = cmd_spawn_target(fc, a->a_argv[0], &sr->target)) != 0)
		return r;

	/* argv[0] is TARGET as typed; a "--" right after it is dropped. */
	argc = (size_t)a->a_argc;
	sr->argv = calloc(argc + 1, sizeof *sr->argv);
	if (sr->argv == NULL)
		goto nomem;
	sr->argv[0] = a->a_argv[0];
	for (size_t i = 1, k = 1; i < argc; i++) {
		if (i == 1 && strcmp(a->a_argv[i], "--") == 0)
			continue;
		sr->argv[k++] = a->a_argv[i];
	}

	envs = args_values(a, 'e', &n);
	sr->env = calloc(n + 1, sizeof *sr->env);
	if (sr->env == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if (envs[i][0] == '=' || envs[i][0] == '\0')
			return forkctl_usage_error(fc->fc_cmd, "--env %s: "
			    "want KEY=VALUE or KEY", envs[i]);
		if (strchr(envs[i], '=') != NULL)
			sr->env[i] = strdup(envs[i]);
		else {
			/* --env KEY passes forkctl's own value. */
			val = getenv(envs[i]);
			if (val == NULL)
				return forkctl_usage_error(fc->fc_cmd,
				    "--env %s: %s is not set here", envs[i],
				    envs[i]);
			if (asprintf(&sr->env[i], "%s=%s", envs[i], val) < 0)
				sr->env[i] = NULL;
		}
		if (sr->env[i] == NULL)
			goto nomem;
		sr->n_env = i + 1;
	}

	if ((val = args_get(a, 'C')) != NULL) {
		if (val[0] == '\0')
			return forkctl_usage_error(fc->fc_cmd, "empty --cwd");
		if ((sr->cwd = cmd_spawn_absolute(val)) == NULL)
			goto nomem;
	}
	return 0;
nomem:
	return forkctl_fail(FORKCTL_EXIT_ERROR, -ENOMEM, "spawn: %s",
	    strerror(errno != 0 ? errno : ENOMEM));
}

/* Open one fd spec for child fd target: *ret_fd is the fd to pass (-1:
 * /dev/null for stdio). Returns 0 or an exit status (reported). */
static int
cmd_spawn_open(struct spawn_req *sr, const char *opt, int target,
    const struct parse_io *io, int *ret_fd)
{
	int	fd;

	switch (io->kind) {
	case PARSE_IO_NULL:
		if (target <= 2) {
			*ret_fd = -1;	/* forkd's /dev/null */
			return 0;
		}
		fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
		break;
	case PARSE_IO_INHERIT:
		if (fcntl(target, F_GETFD) == -1) {
			if (target <= 2) {
				*ret_fd = -1;	/* closed here: /dev/null */
				return 0;
			}
			return forkctl_fail(FORKCTL_EXIT_ERROR, -EBADF,
			    "spawn: %s %d=inherit: fd %d is not open in "
			    "forkctl", opt, target, target);
		}
		*ret_fd = target;
		return 0;
	default:
		/* With the caller's rights, as a shell redirection. */
		fd = open(io->path, io->flags | O_CLOEXEC | O_NOCTTY, 0666);
		break;
	}
	if (fd < 0)
		return forkctl_fail(FORKCTL_EXIT_ERROR, -errno, "spawn: %s %s: "
		    "%s", opt, io->kind == PARSE_IO_NULL ? "/dev/null" :
		    io->path, strerror(errno));
	/* Above every child fd number, so that a later N=inherit cannot
	 * take a file opened here for forkctl's own fd N. */
	if (fd <= FORKD_FD_TARGET_MAX) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, FORKD_FD_TARGET_MAX + 1);
		int e = errno;

		close(fd);
		if (high < 0)
			return forkctl_fail(FORKCTL_EXIT_ERROR, -e,
			    "spawn: %s: %s", opt, strerror(e));
		fd = high;
	}
	sr->opened[sr->n_opened++] = fd;
	*ret_fd = fd;
	return 0;
}

/* The child's stdio and --fd fds into sr. Without --wait stdin is
 * /dev/null; stdout and stderr are forkctl's (as a shell's 'cmd &'),
 * but with --json stdout goes to forkctl's stderr so that forkctl's
 * stdout carries JSON only; --detach makes all three /dev/null. Options
 * override these defaults. Returns 0 or an exit status (reported). */
static int
cmd_spawn_stdio(struct forkctl *fc, struct args *a, struct spawn_req *sr)
{
	static const int	 opts[3] = { OPT_STDIN, OPT_STDOUT, OPT_STDERR };
	static const char *const names[3] = { "--stdin", "--stdout",
	    "--stderr" };
	char			 err[PARSE_ERR_MAX];
	char *const		*vals;
	struct parse_io		 io;
	const char		*v;
	size_t			 n, k;
	int			 detach = args_has(a, OPT_DETACH), target, fd, r;

	for (int i = 0; i < 3; i++) {
		if ((v = args_get(a, opts[i])) != NULL) {
			if (parse_io_spec(v, i == 0, &io, err, sizeof err) < 0)
				return forkctl_usage_error(fc->fc_cmd,
				    "%s: %s", names[i], err);
		} else {
			io.kind = detach || (i == 0 && !args_has(a, 'w')) ?
			    PARSE_IO_NULL : PARSE_IO_INHERIT;
		}
		if (i == 1 && v == NULL && fc->fc_json && !detach) {
			/* --json: the child's stdout is forkctl's stderr. */
			sr->stdio[1] = fcntl(2, F_GETFD) != -1 ? 2 : -1;
			continue;
		}
		if ((r = cmd_spawn_open(sr, names[i], i, &io,
		    &sr->stdio[i])) != 0)
			return r;
	}
	vals = args_values(a, OPT_FD, &n);
	for (size_t i = 0; i < n; i++) {
		if (parse_fd_spec(vals[i], &target, &io, err, sizeof err) < 0)
			return forkctl_usage_error(fc->fc_cmd, "--fd: %s", err);
		/* A later --fd for the same number replaces an earlier one. */
		for (k = 0; k < sr->n_fds; k++) {
			if (sr->fd_targets[k] == target)
				break;
		}
		if (k == FORKD_FDS_MAX - 3)
			return forkctl_usage_error(fc->fc_cmd, "more than %d "
			    "--fd", FORKD_FDS_MAX - 3);
		if ((r = cmd_spawn_open(sr, "--fd", target, &io, &fd)) != 0)
			return r;
		sr->fds[k] = fd;
		sr->fd_targets[k] = target;
		if (k == sr->n_fds)
			sr->n_fds++;
	}
	return 0;
}

/* A long option of forkctl's after a module TARGET goes to the child, as
 * documented; say so once on stderr when a word is exactly one of them
 * ("--wait", "--name=x"), unless "--" after TARGET asked for it. */
static void
cmd_spawn_warn_late_options(const struct args *a)
{
	const struct option	*tables[2] = { cmd_spawn_longopts,
	    forkctl_global_options() };
	const char		*arg, *target = a->a_argv[0];
	size_t			 len;

	if (strchr(target, ':') == NULL || strchr(target, '/') != NULL ||
	    (a->a_argc > 1 && strcmp(a->a_argv[1], "--") == 0))
		return;
	for (int i = 1; i < a->a_argc; i++) {
		arg = a->a_argv[i];
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
			continue;
		len = strcspn(arg + 2, "=");
		for (int t = 0; t < 2; t++) {
			for (const struct option *o = tables[t];
			    o->name != NULL; o++) {
				if (strlen(o->name) != len ||
				    strncmp(o->name, arg + 2, len) != 0)
					continue;
				fflush(stdout);
				fprintf(stderr, "forkctl: warning: %.*s after "
				    "%s is passed to the child, not to forkctl "
				    "(put forkctl's options before TARGET, or "
				    "'TARGET -- ARGS' to silence this)\n",
				    (int)(len + 2), arg, target);
				return;
			}
		}
	}
}

/* Build the child set-up part of o from the options (o is initialised);
 * returns 0 or an exit status (usage error, reported). */
static int
cmd_spawn_setup(struct forkctl *fc, struct args *a, struct spawn_req *sr,
    struct forkd_spawn_opts *o)
{
	const struct forkctl_cmd *cmd = fc->fc_cmd;
	char			 err[PARSE_ERR_MAX], user[256];
	char *const		*vals;
	const char		*v;
	struct forkd_rlimit	 rl;
	uint64_t		 u;
	long			 l;
	size_t			 n, k;
	int			 um, ng;

	vals = args_values(a, OPT_RLIMIT, &n);
	for (size_t i = 0; i < n; i++) {
		if (parse_rlimit(vals[i], &rl, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--rlimit: %s", err);
		/* A later --rlimit for the same resource replaces one. */
		for (k = 0; k < sr->n_rlimits; k++) {
			if (sr->rlimits[k].resource == rl.resource)
				break;
		}
		if (k == FORKD_RLIMITS_MAX)
			return forkctl_usage_error(cmd, "too many --rlimit");
		sr->rlimits[k] = rl;
		if (k == sr->n_rlimits)
			sr->n_rlimits++;
	}
	o->rlimits = sr->rlimits;
	o->n_rlimits = sr->n_rlimits;

	if ((v = args_get(a, OPT_UMASK)) != NULL) {
		if (parse_umask(v, &um, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--umask: %s", err);
		o->umask = um;
	}
	if ((v = args_get(a, OPT_NICE)) != NULL) {
		if (parse_int(v, -20, 19, &l, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--nice: %s", err);
		o->nice_set = 1;
		o->nice = (int)l;
	}
	if ((v = args_get(a, OPT_CPUS)) != NULL) {
		if (parse_cpus(v, sr->cpus, FORKD_CPUS_MAX,
		    FORKD_CPU_NUMBER_MAX, &sr->n_cpus, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--cpus: %s", err);
		o->cpus = sr->cpus;
		o->n_cpus = sr->n_cpus;
	}
	if (args_has(a, OPT_PGROUP) && args_has(a, OPT_SESSION))
		return forkctl_usage_error(cmd, "--pgroup and --session "
		    "exclude each other");
	o->pgroup = args_has(a, OPT_PGROUP) ? FORKD_PGROUP_GROUP :
	    FORKD_PGROUP_SESSION;

	if ((v = args_get(a, OPT_TIMEOUT)) != NULL) {
		if (parse_duration_ms(v, FORKD_TIMEOUT_MS_MAX, &u, err,
		    sizeof err) < 0)
			return forkctl_usage_error(cmd, "--timeout: %s", err);
		if (u == 0)
			return forkctl_usage_error(cmd, "--timeout: '%s' is "
			    "zero (leave the option out for no limit)", v);
		o->timeout_ms = (unsigned int)u;
	}
	if ((v = args_get(a, OPT_KILL_GRACE)) != NULL) {
		if (o->timeout_ms == 0)
			return forkctl_usage_error(cmd, "--kill-grace needs "
			    "--timeout");
		if (parse_duration_ms(v, FORKD_TIMEOUT_MS_MAX, &u, err,
		    sizeof err) < 0)
			return forkctl_usage_error(cmd, "--kill-grace: %s",
			    err);
		if (u == 0)
			return forkctl_usage_error(cmd, "--kill-grace: '%s' "
			    "is zero (at least 1ms)", v);
		o->kill_grace_ms = (unsigned int)u;
	}

	if ((args_has(a, OPT_GID) || args_has(a, OPT_GROUPS)) &&
	    !args_has(a, OPT_UID))
		return forkctl_usage_error(cmd, "--gid and --groups need "
		    "--uid");
	if ((v = args_get(a, OPT_UID)) != NULL) {
		if (parse_user(v, &o->uid, &o->gid, user, sizeof user, err,
		    sizeof err) < 0)
			return forkctl_usage_error(cmd, "--uid: %s", err);
		o->identity_set = 1;
		if ((v = args_get(a, OPT_GID)) != NULL &&
		    parse_group(v, &o->gid, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--gid: %s", err);
		if (o->gid == (gid_t)-1)
			return forkctl_usage_error(cmd, "--uid %s: no such "
			    "user in the passwd database; give --gid",
			    args_get(a, OPT_UID));
		if ((v = args_get(a, OPT_GROUPS)) != NULL) {
			if (parse_groups(v, sr->groups, FORKD_GROUPS_MAX,
			    &sr->n_groups, err, sizeof err) < 0)
				return forkctl_usage_error(cmd, "--groups: %s",
				    err);
		} else if (user[0] != '\0') {
			/* As login, su and sudo: the user's own groups. */
			ng = FORKD_GROUPS_MAX;
			if (getgrouplist(user, o->gid, sr->groups, &ng) < 0)
				return forkctl_usage_error(cmd, "--uid %s: in "
				    "more than %d groups; give --groups",
				    user, FORKD_GROUPS_MAX);
			sr->n_groups = (size_t)ng;
		}
		o->groups = sr->groups;
		o->n_groups = sr->n_groups;
	}
	o->no_new_privs = args_has(a, OPT_NO_NEW_PRIVS);
	o->drop_caps = args_has(a, OPT_DROP_CAPS);

	/* A cgroup limit implies --cgroup. */
	if ((v = args_get(a, OPT_MEMORY_MAX)) != NULL) {
		if (parse_size(v, &o->memory_max, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--memory-max: %s",
			    err);
		if (o->memory_max == 0)
			return forkctl_usage_error(cmd, "--memory-max: '%s' "
			    "is zero", v);
		o->cgroup = 1;
	}
	if ((v = args_get(a, OPT_PIDS_MAX)) != NULL) {
		if (parse_uint(v, 1, UINT32_MAX, &u, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--pids-max: %s", err);
		o->pids_max = (uint32_t)u;
		o->cgroup = 1;
	}
	if ((v = args_get(a, OPT_CPU_MAX)) != NULL) {
		if (parse_cpu_max(v, &o->cpu_quota_us, &o->cpu_period_us,
		    err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--cpu-max: %s", err);
		o->cgroup = 1;
	}
	if (args_has(a, OPT_CGROUP))
		o->cgroup = 1;

	vals = args_values(a, OPT_NS, &n);
	for (size_t i = 0; i < n; i++) {
		unsigned int ns;

		if (parse_namespaces(vals[i], &ns, err, sizeof err) < 0)
			return forkctl_usage_error(cmd, "--ns: %s", err);
		o->namespaces |= ns;
	}
	o->want_pidfd = args_has(a, OPT_PIDFD);
	return 0;
}

/* Send sig to the child through its pidfd (no pid reuse race). */
static int
cmd_spawn_pidfd_signal(int pidfd, int sig)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* spawn --pidfd --wait: poll the pidfd (forwarding signals through it)
 * until the child has ended, then fetch its exit record from forkd. */
static int
cmd_spawn_wait_pidfd(struct forkctl *fc, int sfd, int pidfd, pid_t pid,
    struct forkd_exit *ret)
{
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd[2];
	int			 r, sig, nint = 0;

	for (;;) {
		pfd[0].fd = pidfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return forkctl_fail(FORKCTL_EXIT_ERROR, -errno,
			    "poll: %s", strerror(errno));
		}
		if (pfd[0].revents != 0)
			break;
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof si) != sizeof si)
				continue;
			sig = (int)si.ssi_signo;
			if (sig == SIGINT && ++nint >= CMD_SPAWN_KILL_AFTER)
				sig = SIGKILL;
			r = cmd_spawn_pidfd_signal(pidfd, sig);
			/* -ESRCH: it ended; the pidfd is readable now. */
			if (r < 0 && r != -ESRCH) {
				return forkctl_fail(FORKCTL_EXIT_ERROR, r,
				    "forward signal %d to %ld: %s", sig,
				    (long)pid, strerror(-r));
			}
		}
	}
	/* The child is gone; forkd reaps it and answers from its exit
	 * record (the exit event may also be queued: not needed then). */
	r = forkd_wait(fc->fc_conn, pid, NULL, 30000, ret);
	if (r < 0)
		return forkctl_error(fc, r, "exit status of %ld", (long)pid);
	return FORKCTL_EXIT_OK;
}

/* The exit status of a spawn that failed with err: 125 when forkctl,
 * the connection or forkd failed, 127 when there is no such target (no
 * module entry, no executable at the exec step), else 126: the target
 * could not be started (permission, policy, a set-up step). */
static int
cmd_spawn_fail_status(struct forkctl *fc, int err)
{
	const char	*msg = fc->fc_conn != NULL ?
	    forkd_errmsg(fc->fc_conn) : "";

	switch (err) {
	case -ECONNRESET:
	case -ETIMEDOUT:
	case -EBADMSG:
	case -EPROTO:
	case -EPIPE:
	case -ENOMEM:
	case -ESHUTDOWN:
	case -EMSGSIZE:
		return FORKCTL_EXIT_ERROR;
	case -ENOENT:
	case -ENOTDIR:
		/* The message names the step that failed: only a target
		 * that is not there is "not found", not a --cwd. */
		if (strncmp(msg, "no module", 9) == 0 ||
		    strncmp(msg, "exec", 4) == 0)
			return FORKCTL_EXIT_NOT_FOUND;
		return FORKCTL_EXIT_CANNOT_RUN;
	default:
		return FORKCTL_EXIT_CANNOT_RUN;
	}
}

/* The exit status forkctl takes over from a child. */
static int
cmd_spawn_status(const struct forkd_exit *ex)
{
	if (ex->timed_out)
		return FORKCTL_EXIT_TIMEOUT;
	if (ex->exitcode < 0)
		return 128 + (-ex->exitcode & 0x7f);
	return ex->exitcode & 0xff;
}

/* Wait for the exit event of pid, forwarding signals that forkctl gets
 * (sfd is a signalfd for them). Returns an exit status. */
static int
cmd_spawn_wait(struct forkctl *fc, int sfd, pid_t pid,
    struct forkd_exit *ret)
{
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd[2];
	int			 r, sig, nint = 0;

	for (;;) {
		while ((r = forkd_next_exit(fc->fc_conn, ret)) == 0) {
			if (ret->pid == pid)
				return FORKCTL_EXIT_OK;
		}
		if (r != -EAGAIN)
			return forkctl_error(fc, r, "wait for %ld", (long)pid);

		pfd[0].fd = forkd_fd(fc->fc_conn);
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return forkctl_fail(FORKCTL_EXIT_ERROR, -errno,
			    "poll: %s", strerror(errno));
		}
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof si) != sizeof si)
				continue;
			sig = (int)si.ssi_signo;
			if (sig == SIGINT && ++nint >= CMD_SPAWN_KILL_AFTER)
				sig = SIGKILL;
			r = forkd_signal(fc->fc_conn, pid, NULL, sig);
			/* -ESRCH: it ended; its exit event is on the way. */
			if (r < 0 && r != -ESRCH)
				return forkctl_error(fc, r, "forward signal "
				    "%d to %ld", sig, (long)pid);
		}
		if (pfd[0].revents != 0) {
			r = forkd_process(fc->fc_conn);
			if (r < 0)
				return forkctl_error(fc, r, "wait for %ld",
				    (long)pid);
		}
	}
}

/* forkctl spawn [OPTIONS] TARGET [--] [ARG...] */
static int
cmd_spawn_exec(struct forkctl *fc, struct args *a)
{
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct spawn_req	*sr;
	struct forkd_exit	 ex;
	struct json		 j;
	sigset_t		 mask, omask;
	pid_t			 pid;
	const char		*name = args_get(a, 'n');
	int			 r, sfd = -1, wait = args_has(a, 'w');

	sp.pidfd = -1;
	if (args_has(a, OPT_DETACH) && (wait || args_has(a, 'd')))
		return forkctl_usage_error(fc->fc_cmd, "--detach returns at "
		    "once: not with --wait or --daemon");
	if (args_has(a, 'd') && !wait)
		return forkctl_usage_error(fc->fc_cmd, "--daemon needs --wait "
		    "(the child would be killed as soon as forkctl exits)");
	if (name != NULL && name[0] == '\0')
		return forkctl_usage_error(fc->fc_cmd, "--name: empty (leave "
		    "it out to have forkd choose one)");
	/* Over 8 KiB with the CPU and group arrays: not on the stack. */
	if ((sr = calloc(1, sizeof *sr)) == NULL)
		return forkctl_fail(FORKCTL_EXIT_ERROR, -errno, "spawn: %s",
		    strerror(errno));
	forkd_spawn_opts_init(&o);
	if ((r = cmd_spawn_build(fc, a, sr)) != 0)
		goto out;
	if ((r = cmd_spawn_setup(fc, a, sr, &o)) != 0)
		goto out;
	if ((r = cmd_spawn_stdio(fc, a, sr)) != 0)
		goto out;
	cmd_spawn_warn_late_options(a);

	if ((r = forkctl_connect(fc)) != 0)
		goto out;

	o.target = sr->target;
	o.argv = sr->argv;
	o.env = (const char *const *)sr->env;
	o.env_replace = args_has(a, OPT_CLEAR_ENV);
	o.cwd = sr->cwd;
	o.name = name;
	o.daemon = args_has(a, 'd');
	o.stdin_fd = sr->stdio[0];
	o.stdout_fd = sr->stdio[1];
	o.stderr_fd = sr->stdio[2];
	o.fds = sr->fds;
	o.fd_targets = sr->fd_targets;
	o.n_fds = sr->n_fds;

	if (wait) {
		/* Blocked from before the spawn so no ^C goes unforwarded;
		 * the child does not inherit forkctl's mask. */
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGHUP);
		sigaddset(&mask, SIGQUIT);
		sigprocmask(SIG_BLOCK, &mask, &omask);
		sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
		if (sfd < 0) {
			r = forkctl_fail(FORKCTL_EXIT_ERROR, -errno,
			    "signalfd: %s", strerror(errno));
			goto out;
		}
	}

	fflush(stdout);
	r = forkd_spawn_ex(fc->fc_conn, &o, &sp);
	if (r < 0) {
		const char *detail = forkd_errmsg(fc->fc_conn);

		sp.pidfd = -1;
		r = forkctl_fail(cmd_spawn_fail_status(fc, r), r, "spawn %s: "
		    "%s%s%s%s", a->a_argv[0], forkd_strerror(r),
		    detail[0] != '\0' ? " (" : "", detail,
		    detail[0] != '\0' ? ")" : "");
		goto out;
	}
	/* The files are the child's now; forkctl holds no copy (a pipe
	 * reader sees EOF when the child closes its end). */
	for (size_t i = 0; i < sr->n_opened; i++)
		close(sr->opened[i]);
	sr->n_opened = 0;
	pid = sp.pid;
	if (o.want_pidfd && sp.pidfd < 0) {
		/* A daemon that predates pidfds ignores the request. */
		forkctl_warnx("spawn: forkd did not pass a pidfd for %ld "
		    "(too old a forkd?)", (long)pid);
		if (!wait) {
			r = FORKCTL_EXIT_ERROR;
			goto out;
		}
	}

	if (!wait) {
		if (fc->fc_json) {
			json_init(&j, stdout);
			json_obj_begin(&j);
			json_key(&j, "pid");
			json_int(&j, pid);
			json_key(&j, "name");
			json_str(&j, sp.name);
			if (o.want_pidfd) {
				json_key(&j, "pidfd");
				json_bool(&j, sp.pidfd >= 0);
			}
			if (sp.cgroup[0] != '\0') {
				json_key(&j, "cgroup");
				json_str(&j, sp.cgroup);
			}
			json_obj_end(&j);
			json_finish(&j);
		} else {
			printf("%ld ", (long)pid);
			forkctl_puts_safe(sp.name, stdout);
			fputc('\n', stdout);
		}
		r = FORKCTL_EXIT_OK;
		goto out;
	}

	if (sp.pidfd >= 0)
		r = cmd_spawn_wait_pidfd(fc, sfd, sp.pidfd, pid, &ex);
	else
		r = cmd_spawn_wait(fc, sfd, pid, &ex);
	if (r != FORKCTL_EXIT_OK)
		goto out;
	if (fc->fc_json) {
		json_init(&j, stdout);
		json_exit(&j, &ex);
		json_finish(&j);
	}
	/* With --json too: stderr is not the JSON stream. */
	if (ex.timed_out || ex.oom_killed) {
		fflush(stdout);
		fprintf(stderr, "forkctl: %ld ", (long)pid);
		forkctl_puts_safe(ex.name, stderr);
		if (ex.timed_out)
			fprintf(stderr, " timed out after %u ms and was "
			    "killed", o.timeout_ms);
		if (ex.oom_killed)
			fprintf(stderr, "%s OOM-killed (memory.max of its "
			    "cgroup)", ex.timed_out ? "; it was" : " was");
		fprintf(stderr, " (exit code %d)\n", ex.exitcode);
	} else if (ex.exitcode < 0) {
		char sig[32];

		/* As for a timeout: the 128+N status alone is easy to miss. */
		fflush(stdout);
		fprintf(stderr, "forkctl: %ld ", (long)pid);
		forkctl_puts_safe(ex.name, stderr);
		fprintf(stderr, " was killed by signal %d (%s)\n", -ex.exitcode,
		    signame_name(-ex.exitcode, sig, sizeof sig));
	}
	r = cmd_spawn_status(&ex);
out:
	if (sp.pidfd >= 0)
		close(sp.pidfd);
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &omask, NULL);
	}
	cmd_spawn_req_free(sr);
	free(sr);
	return r;
}

const struct forkctl_cmd cmd_spawn_entry = {
	.name = "spawn",
	.usage = "[-w] [-n NAME] [-d] [--detach] [-e KEY=VALUE]... [--clear-env] "
	    "[-C DIR] [SET-UP OPTIONS] TARGET [--] [ARG...]",
	.lower = 1,
	.upper = -1,
	.flags = CMD_STOPARGS,
	.shortopts = "wn:de:C:",
	.longopts = cmd_spawn_longopts,
	.summary = "Start a child from forkd",
	.help =
"Ask forkd to fork a child that runs TARGET, and print \"PID NAME\".\n"
"\n"
"TARGET is MODULE:ENTRY, an entry of a module preloaded into forkd (see\n"
"'forkctl status'): the child starts from forkd's warm image with the\n"
"module's state already in memory. Or it is a program that forkd forks and\n"
"executes: an absolute path; a relative path, made absolute here; or a\n"
"bare name, looked up in forkctl's $PATH.\n"
"\n"
"The child's argv is TARGET as typed followed by the ARGs. Options must\n"
"come before TARGET: every word after TARGET belongs to the child (a \"--\"\n"
"right after TARGET is dropped); for a MODULE:ENTRY target, a word that is\n"
"exactly one of forkctl's long options (--wait, --name=x) still goes to the\n"
"child, with a warning on stderr (none after 'TARGET --'). The child runs\n"
"as forkd's user, in a new\n"
"session, with forkd's environment plus the --env variables, and in '/'\n"
"unless --cwd is given.\n"
"\n"
"Standard input, output and error: the child's standard output and error\n"
"are forkctl's own (the open files are passed to forkd over the socket, as\n"
"a shell's 'cmd &' inherits them), also without --wait, so a child started\n"
"from a terminal writes to that terminal. Its standard input is forkctl's\n"
"with --wait, else /dev/null. With --json the child's standard output is\n"
"forkctl's standard error, so that forkctl's standard output carries only\n"
"JSON. --detach makes all three /dev/null. --stdin, --stdout, --stderr\n"
"and --fd override each of these. In scripts, capture the pid with\n"
"  pid=$(forkctl spawn --detach TARGET ...)\n"
"which returns at once: a child that kept forkctl's stdout, the $(...)\n"
"pipe, would hold it open until it ends.\n"
"\n"
"Options:\n"
"  -w, --wait           Wait for the child to end and exit with its exit\n"
"                       status, or 128+N if signal N killed it, or 124 if\n"
"                       --timeout killed it; print nothing else (but a\n"
"                       line on stderr for a timeout, an OOM kill or a\n"
"                       death by signal).\n"
"                       SIGINT, SIGTERM, SIGHUP and SIGQUIT that forkctl\n"
"                       receives meanwhile are sent on to the child (it is\n"
"                       not in the terminal's process group); the third\n"
"                       SIGINT sends SIGKILL.\n"
"  -n, --name NAME      Name the child (1 to 64 printable bytes, no\n"
"                       space or '/', not all digits, no leading '-';\n"
"                       unique among forkd's children). Default: chosen\n"
"                       by forkd, ENTRY-N or PROGRAM-N.\n"
"  -d, --daemon         With --wait: have forkd kill the child (SIGTERM,\n"
"                       then SIGKILL) if forkctl dies before it, since\n"
"                       the child lives only as long as the connection.\n"
"  -e, --env KEY=VALUE  Set a variable in the child's environment;\n"
"                       repeatable. '--env KEY' passes forkctl's value.\n"
"      --clear-env      Start from an empty environment: the child gets\n"
"                       only the --env variables.\n"
"  -C, --cwd DIR        The child's working directory (relative to\n"
"                       forkctl's current directory). Default: /.\n"
"      --detach         The child's stdin, stdout and stderr are\n"
"                       /dev/null (unless --stdin/--stdout/--stderr say\n"
"                       otherwise); print \"PID NAME\" and return at once.\n"
"                       Not with --wait or --daemon.\n"
"      --stdin SPEC     The child's standard input. SPEC is one of:\n"
"                         null      /dev/null\n"
"                         inherit   forkctl's own fd of that number\n"
"                         FILE      read FILE (for --stdin), else as >FILE\n"
"                         <FILE     read FILE\n"
"                         >FILE     write FILE, created or truncated\n"
"                         >>FILE    append to FILE, created if missing\n"
"                         <>FILE    read and write FILE, created if missing\n"
"                       forkctl opens FILE with its caller's rights (as a\n"
"                       shell redirection does), relative to its current\n"
"                       directory, and passes the open file; a file named\n"
"                       null or inherit is ./null, ./inherit. Quote the\n"
"                       '<' and '>' forms in a shell: --stdout '>>log'.\n"
"      --stdout SPEC    The child's standard output (see --stdin).\n"
"      --stderr SPEC    The child's standard error (see --stdin).\n"
"      --fd N=SPEC      Give the child fd N (3..63) too: SPEC as for\n"
"                       --stdout (FILE is written; inherit passes forkctl's\n"
"                       own fd N, e.g. a pipe: --fd 3=inherit 3>&1);\n"
"                       repeatable, at most 13.\n"
"\n"
"Set-up options (forkd applies them in the child, in the order listed in\n"
"forkctl(1) and the README; a step that fails makes the spawn fail with\n"
"the step's name and errno, exit status 126):\n"
"      --rlimit NAME=SOFT[:HARD]\n"
"                       Set a resource limit; repeatable (a later one for\n"
"                       the same NAME wins). NAME: as, core, cpu, data,\n"
"                       fsize, locks, memlock, msgqueue, nice, nofile,\n"
"                       nproc, rss, rtprio, rttime, sigpending, stack (any\n"
"                       case, RLIMIT_ prefix allowed). A value is a number,\n"
"                       'unlimited' or 'infinity'; byte limits (as, core,\n"
"                       data, fsize, memlock, msgqueue, rss, stack) take\n"
"                       K, M, G, T suffixes (1024-based). HARD omitted:\n"
"                       the same as SOFT. Raising a hard limit needs a\n"
"                       root forkd.\n"
"      --umask OCTAL    The child's umask, e.g. 077. Default: forkd's.\n"
"      --nice N         Scheduling niceness -20..19 (below forkd's own\n"
"                       needs a root forkd). Default: forkd's.\n"
"      --cpus LIST      CPU affinity, e.g. 0,2-3. Default: forkd's.\n"
"      --session        The child leads a new session (setsid; default).\n"
"      --pgroup         The child leads a new process group in forkd's\n"
"                       session instead (setpgid).\n"
"      --timeout DURATION\n"
"                       Wall-clock limit: forkd sends SIGTERM to the\n"
"                       child's process group when it runs out, SIGKILL\n"
"                       after the grace period, and the exit record says\n"
"                       \"timed out\". DURATION: 500ms, 2s, 1.5m, 1h, 1d\n"
"                       (a bare number is seconds); at most a week.\n"
"      --kill-grace DURATION\n"
"                       Time from SIGTERM to SIGKILL after --timeout.\n"
"                       Default: 2s.\n"
"      --uid USER|UID   Run as this user (setresuid). Needs forkd to run\n"
"                       as root and its [policy] allow_identity to list\n"
"                       your uid; else the spawn fails (EPERM). The group\n"
"                       defaults to the user's primary group and the\n"
"                       supplementary groups to the user's groups (as\n"
"                       login and su do); a uid without a passwd entry\n"
"                       needs --gid.\n"
"      --gid GROUP|GID  The child's group (with --uid).\n"
"      --groups LIST    Supplementary groups, comma-separated names or\n"
"                       gids, at most 64; '' for none (with --uid).\n"
"      --no-new-privs   Set PR_SET_NO_NEW_PRIVS: execve() of setuid or\n"
"                       file-capability programs gains nothing.\n"
"      --drop-caps      Drop every capability (bounding, ambient and\n"
"                       inheritable sets; all of them for a uid 0 child).\n"
"      --cgroup         Place the child in a new cgroup v2 of its own\n"
"                       under forkd's cgroup root, from its creation.\n"
"                       Fails (EOPNOTSUPP) where forkd has no usable\n"
"                       cgroup2 hierarchy (cgroup_root none).\n"
"      --memory-max SIZE\n"
"                       cgroup memory.max (implies --cgroup), e.g. 256M;\n"
"                       a child killed by it is reported \"OOM-killed\".\n"
"      --pids-max N     cgroup pids.max (implies --cgroup).\n"
"      --cpu-max QUOTA[/PERIOD]\n"
"                       cgroup cpu.max in microseconds (implies --cgroup):\n"
"                       QUOTA >= 1000 per PERIOD of 1000..1000000\n"
"                       (default 100000); 50000/100000 is half a CPU.\n"
"                       The limits fail (EOPNOTSUPP) unless forkd's\n"
"                       cgroup root has the controller enabled.\n"
"      --ns LIST        New namespaces, comma-separated: pid, mount (mnt),\n"
"                       net, ipc, uts, user, or all; repeatable. With pid\n"
"                       the printed PID is still the host's. With user the\n"
"                       child is uid/gid 0 inside, mapped to its own ids.\n"
"      --pidfd          Have forkd pass the child's pidfd (from\n"
"                       CLONE_PIDFD) back over the socket; with --wait\n"
"                       forkctl waits by polling it and forwards signals\n"
"                       with pidfd_send_signal(). Fails if the pidfd does\n"
"                       not come (forkd in another PID namespace).\n"
"\n"
"With --json: {pid, name}, plus pidfd (true/false) with --pidfd and\n"
"cgroup (its path) when the child got one; with --wait, after the child\n"
"ended, {pid, name, exitcode, signal, utime_us, stime_us, maxrss_kb,\n"
"timed_out, oom_killed}. The child's own standard output then goes to\n"
"forkctl's standard error (or where --stdout says), never into the JSON.\n"
"A failure is {error, errno, step, exit} instead.\n"
"\n"
"Exit status: without --wait 0 once the child started; 125 if forkctl or\n"
"forkd failed (usage, connection, key); 126 if the target could not be\n"
"started (permission, policy, a set-up step); 127 if there is no such\n"
"target. With --wait, once it started, the child's status as above.\n"
"\n"
"Examples:\n"
"  forkctl spawn --wait pi:hello\n"
"  forkctl spawn --wait pi:leibniz 0 100000000\n"
"  pid=$(forkctl spawn --detach --name job-1 --cwd /srv/data bench:sleep 60)\n"
"  forkctl spawn --stdout '>>job.log' --stderr '>>job.log' bench:sleep 60\n"
"  forkctl spawn -w --fd 3=result.txt -- /bin/sh -c 'echo 42 >&3'\n"
"  forkctl spawn -w -e LANG=C.UTF-8 --clear-env /usr/bin/env\n"
"  forkctl spawn -w --timeout 30s --rlimit nofile=256 --rlimit as=1G \\\n"
"      --umask 077 --ns net,ipc --no-new-privs ./fuzz-case input\n"
"  forkctl spawn -w --uid nobody --drop-caps --cgroup --memory-max 512M \\\n"
"      --pids-max 64 --cpu-max 50000 --pidfd /usr/bin/tenant-job\n",
	.exec = cmd_spawn_exec,
};
