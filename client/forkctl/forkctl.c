/* forkctl.c: command-line client of forkd: the command table, global
 * options, help, and the helpers every command shares.
 *
 * forkctl is built on libforkd's public API only (forkd.h): key files
 * through forkd_key_generate(), connection failures explained by
 * forkd_connect_ex().
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "forkctl.h"

/* Every subcommand, in the order "forkctl --help" lists them. */
static const struct forkctl_cmd *const forkctl_cmd_table[] = {
	&cmd_spawn_entry,
	&cmd_wait_entry,
	&cmd_kill_entry,
	&cmd_ps_entry,
	&cmd_status_entry,
	&cmd_ping_entry,
	&cmd_keygen_entry,
	&cmd_completion_entry,
	&cmd_help_entry,
	NULL
};

static const char forkctl_help_text[] =
"forkctl talks to forkd, the forkserver daemon. forkd loads expensive state\n"
"once (preload modules) and forks ready children from that warm image on\n"
"request; forkctl asks it to start, list, signal and wait for children.\n"
"Every connection is authenticated with the key file shared with forkd.\n"
"\n"
"Commands:\n"
"%s"
"\n"
"Global options (before or after COMMAND):\n"
"  -s, --socket PATH  forkd's socket. Default: $FORKD_SOCKET, else\n"
"                     " FORKD_DEFAULT_SOCKET ".\n"
"  -k, --key FILE     Key file. Default: $FORKD_KEY_FILE, else\n"
"                     " FORKD_DEFAULT_KEY_FILE ".\n"
"      --json         Print results as one line of JSON on standard output;\n"
"                     an error is a JSON object there too, {\"error\": TEXT,\n"
"                     \"errno\": N, \"step\": WHERE, \"exit\": STATUS} on a\n"
"                     line of its own, besides the text on standard error.\n"
"  -h, --help         Show this help, or a command's help after COMMAND.\n"
"  -V, --version      Show the version.\n"
"  After 'kill', -s is kill's signal option; use --socket there.\n"
"\n"
"Environment:\n"
"  FORKD_SOCKET       Socket path when -s is not given.\n"
"  FORKD_KEY_FILE     Key file when -k is not given.\n"
"\n"
"Exit status (reserved as docker's; anything else is the child's own):\n"
"  0    Success.\n"
"  124  'wait' timed out, or spawn --wait --timeout killed the child.\n"
"  125  forkctl or forkd failed: a usage error, forkd not running, the\n"
"       connection or the key refused, a request forkd refused (an\n"
"       unknown child, say); the reason is on standard error.\n"
"  126  spawn: the target could not be started (permission, policy, a\n"
"       set-up step that failed).\n"
"  127  spawn: no such target (no module entry, no such program).\n"
"  spawn --wait otherwise exits with the child's status, or 128+N if\n"
"  signal N killed it.\n"
"\n"
"Security: whoever can read the key file can make forkd run any code as\n"
"forkd's user. Keep it mode 0600, readable only by those you would give\n"
"that user's powers.\n"
"\n"
"Run 'forkctl help COMMAND' for a command's options. See forkctl(1).\n";

/* Milliseconds on the monotonic (or, with realtime, the wall) clock. */
int64_t
forkctl_now_ms(int realtime)
{
	struct timespec	ts;

	clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What forkctl was doing, for --json error records ("usage", "key",
 * "connect", "spawn", ...), and whether to write them. */
static const char	*forkctl_step = "forkctl";
static int		 forkctl_json_errors;
static int		 forkctl_json_error_done;

/* An error record held back while a JSON array is being written. */
static int		 forkctl_json_deferred;
static struct {
	char		 msg[1024];
	int		 err;
	int		 status;
	const char	*step;
	int		 set;
} forkctl_json_saved;

static void forkctl_json_error(const char *, int, int);

/* Hold --json error records back until forkctl_json_error_flush(). */
void
forkctl_json_error_defer(void)
{
	forkctl_json_deferred = 1;
}

/* Write the held-back error record, if any, on its own line. */
void
forkctl_json_error_flush(void)
{
	forkctl_json_deferred = 0;
	if (!forkctl_json_saved.set)
		return;
	forkctl_json_saved.set = 0;
	forkctl_json_error_done = 0;
	forkctl_step = forkctl_json_saved.step;
	forkctl_json_error(forkctl_json_saved.msg, forkctl_json_saved.err,
	    forkctl_json_saved.status);
}

/* Set the step named in a --json error record. */
void
forkctl_set_step(const char *step)
{
	forkctl_step = step;
}

/* With --json, errors are JSON records on stdout too. */
void
forkctl_set_json(int on)
{
	forkctl_json_errors = on;
}

/* With --json: {"error": msg, "errno": N, "step": STEP, "exit": status}
 * on a line of its own on stdout, once per run (the first error is the
 * cause; later ones follow from it). */
static void
forkctl_json_error(const char *msg, int err, int status)
{
	struct json	j;

	if (!forkctl_json_errors || forkctl_json_error_done)
		return;
	forkctl_json_error_done = 1;
	if (forkctl_json_deferred) {
		/* Inside a JSON array being written: after it. */
		snprintf(forkctl_json_saved.msg, sizeof forkctl_json_saved.msg,
		    "%s", msg);
		forkctl_json_saved.err = err;
		forkctl_json_saved.status = status;
		forkctl_json_saved.step = forkctl_step;
		forkctl_json_saved.set = 1;
		return;
	}
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "error");
	json_str(&j, msg);
	json_key(&j, "errno");
	json_int(&j, err < 0 ? -err : err);
	json_key(&j, "step");
	json_str(&j, forkctl_step);
	json_key(&j, "exit");
	json_int(&j, status);
	json_obj_end(&j);
	json_finish(&j);
	fflush(stdout);
}

/* Print "forkctl: MESSAGE" on stderr. */
void
forkctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("forkctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a failure: "forkctl: MESSAGE" on stderr and, with --json, the
 * JSON record on stdout (err: the -errno behind it, or 0). Returns
 * status. */
int
forkctl_fail(int status, int err, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	forkctl_json_error(msg, err, status);
	forkctl_warnx("%s", msg);
	return status;
}

/* Print "forkctl: WHAT: STRERROR (DETAIL)" and return the error exit
 * status. */
int
forkctl_error(struct forkctl *fc, int err, const char *fmt, ...)
{
	const char	*detail = fc->fc_conn != NULL ?
	    forkd_errmsg(fc->fc_conn) : "";
	char		 what[1024];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return forkctl_fail(FORKCTL_EXIT_ERROR, err, "%s: %s%s%s%s", what,
	    forkd_strerror(err), detail[0] != '\0' ? " (" : "", detail,
	    detail[0] != '\0' ? ")" : "");
}

/* Report a usage error of cmd (NULL: forkctl itself); returns the usage
 * exit status. */
int
forkctl_usage_error(const struct forkctl_cmd *cmd, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	forkctl_step = "usage";
	forkctl_json_error(msg, EINVAL, FORKCTL_EXIT_USAGE);
	fflush(stdout);
	fputs("forkctl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	fputs(msg, stderr);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "Usage: forkctl %s%s%s\nTry 'forkctl help %s'.\n",
		    cmd->name, cmd->usage[0] != '\0' ? " " : "", cmd->usage,
		    cmd->name);
	else
		fputs("Usage: forkctl [OPTIONS] COMMAND [ARGS...]\n"
		    "Try 'forkctl --help'.\n", stderr);
	return FORKCTL_EXIT_USAGE;
}

/* Write a string from the daemon (another user's names and targets, say)
 * so that it cannot drive the terminal: a control character, C0 or C1
 * (U+0080-U+009F, which 8-bit terminals obey: 0x9b is CSI), or a byte that
 * is not UTF-8 is written as '?'; the rest as it is. */
void
forkctl_puts_safe(const char *str, FILE *f)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	while (*s != '\0') {
		n = forkctl_utf8_len(s);
		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f)) ||
		    (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)) {
			fputc('?', f);
			s += n > 0 ? n : 1;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
}

/* "1234" is a pid, anything else a child name. */
int
forkctl_parse_child(const char *s, pid_t *ret_pid, const char **ret_name)
{
	char	*end;
	long	 v;

	if (s == NULL || s[0] == '\0' || strlen(s) > FORKD_NAME_MAX)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		v = strtol(s, &end, 10);
		if (*end == '\0') {
			if (errno != 0 || v <= 0 || v > INT32_MAX)
				return -EINVAL;
			*ret_pid = (pid_t)v;
			*ret_name = NULL;
			return 0;
		}
	}
	*ret_pid = 0;
	*ret_name = s;
	return 0;
}

/* "42s", "3m07s", "2h05m", "4d03h". */
void
forkctl_format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t	s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)s / 60,
		    (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)s / 3600,
		    (unsigned long long)(s % 3600) / 60);
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)s / 86400,
		    (unsigned long long)(s % 86400) / 3600);
}

/* A path from an option, else the environment, else the default. */
static const char *
forkctl_path(const char *opt, const char *env, const char *dflt)
{
	const char	*v;

	if (opt != NULL)
		return opt;
	v = getenv(env);
	return v != NULL && v[0] != '\0' ? v : dflt;
}

/* The socket path forkctl uses. */
const char *
forkctl_socket_path(const struct forkctl *fc)
{
	return forkctl_path(fc->fc_socket, FORKD_ENV_SOCKET,
	    FORKD_DEFAULT_SOCKET);
}

/* The key file forkctl uses. */
const char *
forkctl_key_path(const struct forkctl *fc)
{
	return forkctl_path(fc->fc_key, FORKD_ENV_KEY_FILE,
	    FORKD_DEFAULT_KEY_FILE);
}

/* Check the key file before connecting, so that its problems get
 * forkctl's advice: forkd not running at all, a key forkd would refuse
 * (its own message), a key this user may not read (group forkd). Returns
 * 0 or an exit status (reported). */
static int
forkctl_check_key(const char *sock, const char *keyf)
{
	struct forkd_error	err;
	struct stat		st;
	int			r;

	forkctl_set_step("key");
	r = forkd_key_check(keyf, FORKD_KEY_CHECK_MODE, &err);
	if (r == 0)
		return 0;
	if (r == -ENOENT && lstat(sock, &st) < 0 && errno == ENOENT)
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "forkd is not "
		    "running: no socket %s and no key file %s (start forkd, "
		    "e.g. 'systemctl start forkd', or point forkctl at a "
		    "running one with -s/-k or $FORKD_SOCKET and "
		    "$FORKD_KEY_FILE)", sock, keyf);
	if (r == -ENOENT)
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "%s (make one with "
		    "'forkctl keygen', or give forkd's key with -k FILE)",
		    err.message);
	if (r == -EACCES)
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "%s (forkd's key is "
		    "readable by group forkd: join it with 'sudo usermod -aG "
		    "forkd %s' and log in again, or run this once with 'sudo "
		    "-g forkd forkctl ...')", err.message,
		    getenv("USER") != NULL ? getenv("USER") : "USER");
	/* -EPERM: a key readable by others, which forkd refuses too. */
	return forkctl_fail(FORKCTL_EXIT_ERROR, r, "%s", err.message);
}

/* Load the key and connect to forkd; commands call this once their
 * arguments are checked. Returns 0 or an exit status. */
int
forkctl_connect(struct forkctl *fc)
{
	const char		*step = forkctl_step;
	const char		*sock = forkctl_socket_path(fc);
	const char		*keyf = forkctl_key_path(fc);
	struct forkd_error	 err;
	int			 r;

	if ((r = forkctl_check_key(sock, keyf)) != 0)
		return r;
	forkctl_set_step("connect");
	r = forkd_connect_ex(&fc->fc_conn, sock, keyf, &err);
	if (r < 0) {
		fc->fc_conn = NULL;
		if (err.step == FORKD_STEP_KEY)
			forkctl_set_step("key");
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "%s", err.message);
	}
	forkctl_set_step(step);
	return 0;
}

/* Edit distance of a and b (short words: command names). */
static size_t
forkctl_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) :
			    (del < ins ? del : ins);
			/* A swap of two neighbours counts once. */
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev[j - 1] < cur[j])
				cur[j] = prev[j - 1];
		}
		memcpy(prev, cur, sizeof prev);
	}
	return prev[lb];
}

/* The command nearest to name (a typo of it, or a prefix), or NULL. */
static const char *
forkctl_nearest_cmd(const char *name)
{
	const char	*best = NULL;
	size_t		 bestd = SIZE_MAX, d, len = strlen(name);

	for (size_t i = 0; forkctl_cmd_table[i] != NULL; i++) {
		const char *c = forkctl_cmd_table[i]->name;

		d = len >= 2 && strncmp(c, name, len) == 0 ? 1 :
		    forkctl_distance(name, c);
		if (d < bestd) {
			bestd = d;
			best = c;
		}
	}
	/* At most 2 edits, and fewer than half the word. */
	return bestd <= 2 && bestd * 2 < (len > 2 ? len : 2) + 1 ? best : NULL;
}

/* Every command, NULL-terminated (for completion). */
const struct forkctl_cmd *const *
forkctl_commands(void)
{
	return forkctl_cmd_table;
}

/* The command named name, or NULL. */
static const struct forkctl_cmd *
forkctl_find_cmd(const char *name)
{
	for (size_t i = 0; forkctl_cmd_table[i] != NULL; i++) {
		if (strcmp(forkctl_cmd_table[i]->name, name) == 0)
			return forkctl_cmd_table[i];
	}
	return NULL;
}

/* Print the version line. */
void
forkctl_version(void)
{
	printf("forkctl %s (libforkd %s, protocol %d)\n", FORKD_VERSION_STRING,
	    FORKD_LIB_VERSION, FORKD_PROTOCOL_VERSION);
}

/* The top-level help. */
static void
forkctl_main_help(FILE *f)
{
	const struct forkctl_cmd	*cmd;
	char				 list[2048];
	size_t				 off = 0;

	for (size_t i = 0; (cmd = forkctl_cmd_table[i]) != NULL; i++) {
		if (off < sizeof list)
			off += (size_t)snprintf(list + off, sizeof list - off,
			    "  %-10s  %s\n", cmd->name, cmd->summary);
	}
	fputs("Usage: forkctl [OPTIONS] COMMAND [ARGS...]\n\n", f);
	fprintf(f, forkctl_help_text, list);
}

/* A command's full help. */
void
forkctl_cmd_help(const struct forkctl_cmd *cmd, FILE *f)
{
	fprintf(f, "Usage: forkctl [OPTIONS] %s%s%s\n\n", cmd->name,
	    cmd->usage[0] != '\0' ? " " : "", cmd->usage);
	fprintf(f, "%s.\n\n", cmd->summary);
	fputs(cmd->help, f);
	fputs("\nGlobal options -s/--socket, -k/--key, --json, -h/--help and "
	    "-V/--version\nare accepted too; see 'forkctl --help' and "
	    "forkctl(1).\n", f);
}

/* forkctl help [COMMAND] */
static int
cmd_help_exec(struct forkctl *fc, struct args *a)
{
	const struct forkctl_cmd	*cmd;

	if (a->a_argc == 0) {
		forkctl_main_help(stdout);
		return FORKCTL_EXIT_OK;
	}
	cmd = forkctl_find_cmd(a->a_argv[0]);
	if (cmd == NULL && forkctl_nearest_cmd(a->a_argv[0]) != NULL)
		return forkctl_usage_error(&cmd_help_entry, "unknown command "
		    "'%s'; did you mean '%s'?", a->a_argv[0],
		    forkctl_nearest_cmd(a->a_argv[0]));
	if (cmd == NULL)
		return forkctl_usage_error(&cmd_help_entry,
		    "unknown command '%s'", a->a_argv[0]);
	forkctl_cmd_help(cmd, stdout);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_help_entry = {
	.name = "help",
	.usage = "[COMMAND]",
	.lower = 0,
	.upper = 1,
	.summary = "Show the help of forkctl or of one command",
	.help =
"Without COMMAND, list the commands and the global options; with COMMAND,\n"
"show its usage, description, options and examples. 'forkctl COMMAND\n"
"--help' does the same.\n"
"\n"
"Examples:\n"
"  forkctl help spawn\n",
	.exec = cmd_help_exec,
};

static const struct option forkctl_longopts[] = {
	{ "socket",	required_argument,	NULL,	's' },
	{ "key",	required_argument,	NULL,	'k' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "help",	no_argument,		NULL,	'h' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 }
};

/* The global long options, NULL-terminated. */
const struct option *
forkctl_global_options(void)
{
	return forkctl_longopts;
}

/* Exit status r, once what went to stdout is out: a write error (a full
 * disk, a closed pipe) makes a success a failure. */
static int
forkctl_exit(int r)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		forkctl_warnx("write error on standard output: %s",
		    strerror(errno));
		if (r == FORKCTL_EXIT_OK)
			r = FORKCTL_EXIT_ERROR;
	}
	return r;
}

/* Parse the global options, find the command, run it. */
int
main(int argc, char **argv)
{
	const struct forkctl_cmd	*cmd;
	struct forkctl			 fc;
	struct args			 a;
	const char			*empty;
	int				 c, r;

	memset(&fc, 0, sizeof fc);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:s:k:hV", forkctl_longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's':
			fc.fc_socket = optarg;
			break;
		case 'k':
			fc.fc_key = optarg;
			break;
		case OPT_JSON:
			fc.fc_json = 1;
			forkctl_set_json(1);
			break;
		case 'h':
			forkctl_main_help(stdout);
			return forkctl_exit(FORKCTL_EXIT_OK);
		case 'V':
			forkctl_version();
			return forkctl_exit(FORKCTL_EXIT_OK);
		case ':':
			return forkctl_usage_error(NULL, "option %s needs a "
			    "value", argv[optind - 1]);
		default:
			return forkctl_usage_error(NULL, "unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return forkctl_usage_error(NULL, "no command given");
	cmd = forkctl_find_cmd(argv[optind]);
	if (cmd == NULL) {
		const char *near = forkctl_nearest_cmd(argv[optind]);

		if (near != NULL)
			return forkctl_usage_error(NULL, "unknown command "
			    "'%s'; did you mean '%s'?", argv[optind], near);
		return forkctl_usage_error(NULL, "unknown command '%s'",
		    argv[optind]);
	}
	forkctl_set_step(cmd->name);
	fc.fc_cmd = cmd;

	r = args_parse(&fc, cmd, argc - optind, argv + optind, &a);
	if (r != 0)	/* < 0: the command's --help was shown */
		return forkctl_exit(r < 0 ? FORKCTL_EXIT_OK : r);
	/* Before or after the command alike. */
	empty = fc.fc_socket != NULL && fc.fc_socket[0] == '\0' ?
	    "-s/--socket" : fc.fc_key != NULL && fc.fc_key[0] == '\0' ?
	    "-k/--key" : NULL;
	if (empty != NULL) {
		args_free(&a);
		return forkctl_usage_error(cmd, "%s: empty path", empty);
	}
	r = cmd->exec(&fc, &a);
	forkd_close(fc.fc_conn);
	args_free(&a);
	return forkctl_exit(r);
}
