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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
"      --json         Print results as one line of JSON on standard output.\n"
"                     Errors still go to standard error as text.\n"
"  -h, --help         Show this help, or a command's help after COMMAND.\n"
"  -V, --version      Show the version.\n"
"  After 'kill', -s is kill's signal option; use --socket there.\n"
"\n"
"Environment:\n"
"  FORKD_SOCKET       Socket path when -s is not given.\n"
"  FORKD_KEY_FILE     Key file when -k is not given.\n"
"\n"
"Exit status:\n"
"  0    Success.\n"
"  1    forkd refused the request, or the connection or authentication\n"
"       failed; the reason is printed on standard error.\n"
"  2    Usage error.\n"
"  124  'wait' timed out.\n"
"  spawn --wait exits with the child's status, or 128+N if signal N\n"
"  killed it.\n"
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

/* Print "forkctl: WHAT: STRERROR (DETAIL)" and return the error exit
 * status. */
int
forkctl_error(struct forkctl *fc, int err, const char *fmt, ...)
{
	const char	*detail = fc->fc_conn != NULL ?
	    forkd_errmsg(fc->fc_conn) : "";
	va_list		 ap;

	fflush(stdout);
	fputs("forkctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s", forkd_strerror(err));
	if (detail[0] != '\0')
		fprintf(stderr, " (%s)", detail);
	fputc('\n', stderr);
	return FORKCTL_EXIT_ERROR;
}

/* Report a usage error of cmd (NULL: forkctl itself); returns 2. */
int
forkctl_usage_error(const struct forkctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("forkctl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
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

/* Load the key and connect to forkd; commands call this once their
 * arguments are checked. Returns 0 or an exit status. libforkd names the
 * step that failed and the file, with a hint. */
int
forkctl_connect(struct forkctl *fc)
{
	struct forkd_error	err;
	int			r;

	r = forkd_connect_ex(&fc->fc_conn, forkctl_socket_path(fc),
	    forkctl_key_path(fc), &err);
	if (r < 0) {
		fc->fc_conn = NULL;
		if (err.step == FORKD_STEP_KEY && r == -ENOENT)
			forkctl_warnx("%s (make one with 'forkctl keygen', or "
			    "give forkd's key with -k FILE)", err.message);
		else
			forkctl_warnx("%s", err.message);
		return FORKCTL_EXIT_ERROR;
	}
	return 0;
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
			    "  %-8s %s\n", cmd->name, cmd->summary);
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
	if (cmd == NULL)
		return forkctl_usage_error(NULL, "unknown command '%s'",
		    argv[optind]);
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
