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
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "forkctl.h"

/* SIGINTs after which spawn --wait sends SIGKILL instead. */
#define CMD_SPAWN_KILL_AFTER	3

static const struct option cmd_spawn_longopts[] = {
	{ "wait",	no_argument,		NULL,	'w' },
	{ "name",	required_argument,	NULL,	'n' },
	{ "daemon",	no_argument,		NULL,	'd' },
	{ "env",	required_argument,	NULL,	'e' },
	{ "clear-env",	no_argument,		NULL,	OPT_CLEAR_ENV },
	{ "cwd",	required_argument,	NULL,	'C' },
	{ NULL,		0,			NULL,	0 }
};

/* What the spawn request is built from; everything here is owned. */
struct spawn_req {
	char		 *target;
	char		 *cwd;
	const char	**argv;
	char		**env;
	size_t		  n_env;
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
		if (*ret == NULL) {
			forkctl_warnx("spawn: '%s' is neither MODULE:ENTRY nor "
			    "a program found in $PATH", arg);
			return FORKCTL_EXIT_ERROR;
		}
	}
	if (*ret == NULL) {
		forkctl_warnx("spawn: %s: %s", arg, strerror(errno));
		return FORKCTL_EXIT_ERROR;
	}
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
	forkctl_warnx("spawn: %s", strerror(errno != 0 ? errno : ENOMEM));
	return FORKCTL_EXIT_ERROR;
}

/* The exit status forkctl takes over from a child. */
static int
cmd_spawn_status(const struct forkd_exit *ex)
{
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
			forkctl_warnx("poll: %s", strerror(errno));
			return FORKCTL_EXIT_ERROR;
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
	struct spawn_req	 sr;
	struct forkd_exit	 ex;
	struct json		 j;
	sigset_t		 mask, omask;
	char			 name[FORKD_NAME_MAX + 1];
	pid_t			 pid;
	int			 r, sfd = -1, wait = args_has(a, 'w');

	memset(&sr, 0, sizeof sr);
	if (args_has(a, 'd') && !wait)
		return forkctl_usage_error(fc->fc_cmd, "--daemon needs --wait "
		    "(the child would be killed as soon as forkctl exits)");
	if ((r = cmd_spawn_build(fc, a, &sr)) != 0)
		goto out;

	if ((r = forkctl_connect(fc)) != 0)
		goto out;

	forkd_spawn_opts_init(&o);
	o.target = sr.target;
	o.argv = sr.argv;
	o.env = (const char *const *)sr.env;
	o.env_replace = args_has(a, OPT_CLEAR_ENV);
	o.cwd = sr.cwd;
	o.name = args_get(a, 'n');
	o.daemon = args_has(a, 'd');
	/* The child gets forkctl's stdio, those of it that are open. */
	o.stdin_fd = fcntl(0, F_GETFD) != -1 ? 0 : -1;
	o.stdout_fd = fcntl(1, F_GETFD) != -1 ? 1 : -1;
	o.stderr_fd = fcntl(2, F_GETFD) != -1 ? 2 : -1;

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
			forkctl_warnx("signalfd: %s", strerror(errno));
			r = FORKCTL_EXIT_ERROR;
			goto out;
		}
	}

	fflush(stdout);
	r = forkd_spawn(fc->fc_conn, &o, &pid, name, sizeof name);
	if (r < 0) {
		r = forkctl_error(fc, r, "spawn %s", a->a_argv[0]);
		goto out;
	}

	if (!wait) {
		if (fc->fc_json) {
			json_init(&j, stdout);
			json_obj_begin(&j);
			json_key(&j, "pid");
			json_int(&j, pid);
			json_key(&j, "name");
			json_str(&j, name);
			json_obj_end(&j);
			json_finish(&j);
		} else {
			printf("%ld ", (long)pid);
			forkctl_puts_safe(name, stdout);
			fputc('\n', stdout);
		}
		r = FORKCTL_EXIT_OK;
		goto out;
	}

	r = cmd_spawn_wait(fc, sfd, pid, &ex);
	if (r != FORKCTL_EXIT_OK)
		goto out;
	if (fc->fc_json) {
		json_init(&j, stdout);
		json_exit(&j, &ex);
		json_finish(&j);
	}
	r = cmd_spawn_status(&ex);
out:
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &omask, NULL);
	}
	cmd_spawn_req_free(&sr);
	return r;
}

const struct forkctl_cmd cmd_spawn_entry = {
	.name = "spawn",
	.usage = "[-w] [-n NAME] [-d] [-e KEY=VALUE]... [--clear-env] "
	    "[-C DIR] TARGET [--] [ARG...]",
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
"right after TARGET is dropped). The child runs as forkd's user, in a new\n"
"session, with forkd's environment plus the --env variables, and in '/'\n"
"unless --cwd is given.\n"
"\n"
"The child's standard input, output and error are forkctl's own: the open\n"
"files are passed to forkd over the socket, also without --wait, so a\n"
"child started from a terminal writes to that terminal. Redirect forkctl's\n"
"stdio (e.g. </dev/null >log 2>&1) to give the child other files.\n"
"\n"
"Options:\n"
"  -w, --wait           Wait for the child to end and exit with its exit\n"
"                       status, or 128+N if signal N killed it; print\n"
"                       nothing else. SIGINT, SIGTERM, SIGHUP and SIGQUIT\n"
"                       that forkctl receives meanwhile are sent on to the\n"
"                       child (it is not in the terminal's process group);\n"
"                       the third SIGINT sends SIGKILL.\n"
"  -n, --name NAME      Name the child (at most 64 bytes, unique among\n"
"                       forkd's children). Default: chosen by forkd,\n"
"                       ENTRY-N or PROGRAM-N.\n"
"  -d, --daemon         With --wait: have forkd kill the child (SIGTERM,\n"
"                       then SIGKILL) if forkctl dies before it, since\n"
"                       the child lives only as long as the connection.\n"
"  -e, --env KEY=VALUE  Set a variable in the child's environment;\n"
"                       repeatable. '--env KEY' passes forkctl's value.\n"
"      --clear-env      Start from an empty environment: the child gets\n"
"                       only the --env variables.\n"
"  -C, --cwd DIR        The child's working directory (relative to\n"
"                       forkctl's current directory). Default: /.\n"
"\n"
"With --json: {pid, name}; with --wait, after the child ended, {pid, name,\n"
"exitcode, signal, utime_us, stime_us, maxrss_kb}, following whatever the\n"
"child itself wrote to standard output.\n"
"\n"
"Examples:\n"
"  forkctl spawn --wait pi:hello\n"
"  forkctl spawn --wait pi:leibniz 0 100000000\n"
"  forkctl spawn --name job-1 --cwd /srv/data bench:sleep 60 </dev/null\n"
"  forkctl spawn -w -e LANG=C.UTF-8 --clear-env /usr/bin/env\n",
	.exec = cmd_spawn_exec,
};
