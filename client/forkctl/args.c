/* args.c: option parsing for forkctl subcommands (after tmux's arguments.c).
 *
 * Each command lists its own short and long options in the command table;
 * the global options (-s/--socket, -k/--key, --json, -h/--help,
 * -V/--version) are accepted by every command, before or after its name. A
 * command that uses a global short letter for itself (kill -s SIG) keeps
 * the letter and the global option stays reachable by its long name.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkctl.h"

static const struct option args_global_longopts[] = {
	{ "socket",	required_argument,	NULL,	OPT_SOCKET },
	{ "key",	required_argument,	NULL,	OPT_KEY },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "help",	no_argument,		NULL,	OPT_HELP },
	{ "version",	no_argument,		NULL,	OPT_VERSION },
};
#define ARGS_NGLOBAL (sizeof args_global_longopts / sizeof args_global_longopts[0])

/* Whether the option was given. */
int
args_has(const struct args *a, int opt)
{
	return opt >= 0 && opt < OPT_MAX && a->a_count[opt] > 0;
}

/* The last value given for the option, or NULL. */
const char *
args_get(const struct args *a, int opt)
{
	if (!args_has(a, opt))
		return NULL;
	return a->a_values[opt][a->a_count[opt] - 1];
}

/* Every value given for a repeatable option, in order. */
char *const *
args_values(const struct args *a, int opt, size_t *ret_n)
{
	*ret_n = args_has(a, opt) ? a->a_count[opt] : 0;
	return *ret_n > 0 ? a->a_values[opt] : NULL;
}

/* Record one occurrence of an option (value may be NULL). */
static int
args_add(struct args *a, int opt, char *value)
{
	char	**nv;

	nv = reallocarray(a->a_values[opt], a->a_count[opt] + 1, sizeof *nv);
	if (nv == NULL)
		return -ENOMEM;
	nv[a->a_count[opt]++] = value;
	a->a_values[opt] = nv;
	return 0;
}

/* Free what args_parse() allocated. */
void
args_free(struct args *a)
{
	for (int i = 0; i < OPT_MAX; i++)
		free(a->a_values[i]);
	memset(a, 0, sizeof *a);
}

/* Display form of the option at the last getopt position. */
static void
args_optname(int optopt_c, char **argv, char *buf, size_t len)
{
	const char	*arg = argv[optind - 1];

	if (arg != NULL && strncmp(arg, "--", 2) == 0)
		snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
	else if (optopt_c > 0 && optopt_c < 256)
		snprintf(buf, len, "-%c", optopt_c);
	else
		snprintf(buf, len, "%s", arg != NULL ? arg : "?");
}

/* Build the getopt_long() tables for cmd plus the global options. */
static int
args_tables(const struct forkctl_cmd *cmd, char *shortopts, size_t slen,
    struct option **ret_long)
{
	const char	*own = cmd->shortopts != NULL ? cmd->shortopts : "";
	struct option	*lo;
	size_t		 n = 0, k = 0;

	snprintf(shortopts, slen, "%s:%s%s%s%s", (cmd->flags & CMD_STOPARGS) ?
	    "+" : "", own, strchr(own, 's') ? "" : "s:",
	    strchr(own, 'k') ? "" : "k:", "hV");
	while (cmd->longopts != NULL && cmd->longopts[n].name != NULL)
		n++;
	lo = calloc(n + ARGS_NGLOBAL + 1, sizeof *lo);
	if (lo == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		lo[k++] = cmd->longopts[i];
	for (size_t i = 0; i < ARGS_NGLOBAL; i++)
		lo[k++] = args_global_longopts[i];
	*ret_long = lo;
	return 0;
}

/* Parse a subcommand's argv (argv[0] is its name). Returns 0 to run the
 * command, -1 when --help/--version was answered, or an exit status for an
 * error (already reported). */
int
args_parse(struct forkctl *fc, const struct forkctl_cmd *cmd, int argc,
    char **argv, struct args *a)
{
	struct option	*lo = NULL;
	char		 shortopts[128], name[64];
	int		 c, sig, r = 0, help = 0, version = 0;

	memset(a, 0, sizeof *a);
	if (args_tables(cmd, shortopts, sizeof shortopts, &lo) < 0) {
		forkctl_warnx("out of memory");
		return FORKCTL_EXIT_ERROR;
	}

	/* kill -9 / kill -KILL: a signal where an option would be. */
	if ((cmd->flags & CMD_DASHSIG) && argc > 1 && argv[1][0] == '-' &&
	    ((argv[1][1] >= '0' && argv[1][1] <= '9') ||
	    (argv[1][1] >= 'A' && argv[1][1] <= 'Z')) &&
	    signame_parse(argv[1] + 1, &sig) == 0) {
		if (args_add(a, 's', argv[1] + 1) < 0)
			goto nomem;
		argv[1] = argv[0];
		argv++;
		argc--;
	}

	optind = 0;	/* full reset of GNU getopt */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (c == 's' && strchr(cmd->shortopts ? cmd->shortopts : "",
		    's') == NULL)
			c = OPT_SOCKET;
		else if (c == 'k' && strchr(cmd->shortopts ?
		    cmd->shortopts : "", 'k') == NULL)
			c = OPT_KEY;
		else if (c == 'h')
			c = OPT_HELP;
		else if (c == 'V')
			c = OPT_VERSION;
		switch (c) {
		case OPT_SOCKET:
			fc->fc_socket = optarg;
			continue;
		case OPT_KEY:
			fc->fc_key = optarg;
			continue;
		case OPT_JSON:
			fc->fc_json = 1;
			forkctl_set_json(1);
			continue;
		case OPT_HELP:
			help = 1;
			continue;
		case OPT_VERSION:
			version = 1;
			continue;
		case ':':
			args_optname(optopt, argv, name, sizeof name);
			r = forkctl_usage_error(cmd, "option %s needs a value",
			    name);
			goto out;
		case '?':
			args_optname(optopt, argv, name, sizeof name);
			r = forkctl_usage_error(cmd, "unknown option %s", name);
			goto out;
		default:
			break;
		}
		if (c < 0 || c >= OPT_MAX) {
			r = forkctl_usage_error(cmd, "unhandled option");
			goto out;
		}
		if (args_add(a, c, optarg) < 0)
			goto nomem;
	}
	if (help || version) {
		r = -1;
		if (help)
			forkctl_cmd_help(cmd, stdout);
		else
			forkctl_version();
		goto out;
	}
	a->a_argc = argc - optind;
	a->a_argv = argv + optind;
	if (a->a_argc < cmd->lower) {
		r = forkctl_usage_error(cmd, "missing arguments");
		goto out;
	}
	if (cmd->upper >= 0 && a->a_argc > cmd->upper) {
		r = forkctl_usage_error(cmd, cmd->upper == 0 ?
		    "no arguments expected" : "too many arguments");
		goto out;
	}
out:
	free(lo);
	if (r != 0)
		args_free(a);
	return r;
nomem:
	forkctl_warnx("out of memory");
	r = FORKCTL_EXIT_ERROR;
	goto out;
}
