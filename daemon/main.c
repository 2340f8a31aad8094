/* main.c: forkd command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "forkd.h"
#include "log.h"
#include "server.h"

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: forkd [OPTIONS]\n"
"\n"
"forkd is a forkserver daemon: it preloads modules once, then forks\n"
"children from that warm image on request from authenticated clients\n"
"(libforkd, forkctl) over a Unix socket. It runs in the foreground.\n"
"\n"
"Options:\n"
"  -c, --config FILE       read settings from FILE (INI; see forkd.conf(5));\n"
"                          options given here override the file\n"
"  -s, --socket PATH       listen on PATH (default " FORKD_DEFAULT_SOCKET ");\n"
"                          ignored when systemd passes a socket\n"
"      --socket-mode MODE  permissions of the socket file (octal, default 0600)\n"
"      --socket-group GROUP\n"
"                          group of the socket file (name or gid); with\n"
"                          --socket-mode 0660 its members may connect\n"
"  -k, --key FILE          authkey file (default $FORKD_KEY_FILE, else\n"
"                          " FORKD_DEFAULT_KEY_FILE ");\n"
"                          must be owned by forkd's user and not\n"
"                          group/world-writable or world-readable\n"
"  -m, --module FILE.so[:OPTS]\n"
"                          preload a module (repeatable); OPTS is passed to\n"
"                          its init, e.g. bench.so:size_mb=256\n"
"      --pool N            keep N children pre-forked (default 8; 0: off);\n"
"                          overrides pool_max in the config\n"
"      --spawn-cpu CPU|none\n"
"                          run forkd, its zygote and idle pool children on\n"
"                          this one CPU (children get forkd's affinity back\n"
"                          before their target); default none\n"
"  -v, --verbose           debug log output\n"
"  -q, --quiet             only warnings and errors\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Signals: SIGTERM/SIGINT stop accepting, terminate children spawned with\n"
"the daemon flag, and exit 0. SIGHUP re-reads the key file (same checks\n"
"as at start-up; a bad one changes nothing), and [limits], [policy] and\n"
"log_level from the config file (modules are not reloaded).\n"
"\n"
"Security: whoever can read the key file can make forkd run code as its\n"
"user. Keep it mode 0600 (or 0640 for a trusted group).\n"
"\n"
"Exit status: 0 after a clean stop, 1 on a start-up error, 2 on a usage\n"
"error.\n");
}

/* Open /dev/null on whichever of fds 0-2 is closed, before anything else
 * gets an fd: a forkd started with one closed would otherwise find its
 * own /dev/null, its socket or a pool child's control socket there, where
 * log lines to stderr and the "close every fd from 3 up" of the zygote and
 * the pool would hit it. */
static void
stdio_open(void)
{
	static const char msg[] = "forkd: cannot open /dev/null on a closed "
	    "fd 0-2\n";

	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* open() takes the lowest free fd: this one. */
		if (open("/dev/null", O_RDWR) != fd) {
			(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
			exit(1);
		}
	}
}

/* The options that change a setting, as the config file would; a
 * setting given here is not overridden by the file (cli_set). */
static const struct main_setting {
	int		 ms_opt;
	const char	*ms_section;
	const char	*ms_key;
	unsigned int	 ms_cli;
} main_settings[] = {
	{ 's', "forkd",	 "socket",	 CONFIG_CLI_SOCKET },
	{ 'M', "forkd",	 "socket_mode",	 CONFIG_CLI_MODE },
	{ 'G', "forkd",	 "socket_group", CONFIG_CLI_GROUP },
	{ 'k', "forkd",	 "key_file",	 CONFIG_CLI_KEY },
	{ 'm', "forkd",	 "module",	 CONFIG_CLI_MODULES },
	{ 'P', "limits", "pool_max",	 CONFIG_CLI_POOL },
	{ 'C', "forkd",	 "spawn_cpu",	 CONFIG_CLI_SPAWN_CPU },
};

/* Apply option ch when it is one of main_settings: 1 if applied, 0 if ch
 * is another option, -1 (err says why) on a bad value. */
static int
main_setting(struct config *cfg, int ch, const char *arg, char *err,
    size_t errlen)
{
	const struct main_setting	*ms = NULL;
	char				*why;

	for (size_t i = 0; i < sizeof main_settings / sizeof main_settings[0];
	    i++)
		if (main_settings[i].ms_opt == ch)
			ms = &main_settings[i];
	if (ms == NULL)
		return 0;
	if (config_set(cfg, ms->ms_section, ms->ms_key, arg, err,
	    errlen) != 0) {
		/* --pool is named as the option, not the setting:
		 * "limits.pool_max: ..." becomes "--pool: ...", in place
		 * (the name only shrinks). */
		if (ch == 'P' && (why = strchr(err, ':')) != NULL &&
		    why - err >= 6) {
			memmove(err + 6, why, strlen(why) + 1);
			memcpy(err, "--pool", 6);
		}
		return -1;
	}
	cfg->cli_set |= ms->ms_cli;
	return 1;
}

/* After the options: the config file, the key file's default, the checks.
 * 0, or the exit status (err says why). */
static int
main_configure(struct config *cfg, const char *config_path, char *err,
    size_t errlen)
{
	if (config_path != NULL &&
	    config_load_file(cfg, config_path, err, errlen) != 0)
		return 1;
	if (cfg->key_file == NULL) {
		const char *k = getenv(FORKD_ENV_KEY_FILE);

		if (config_set(cfg, "forkd", "key_file", k && *k ? k :
		    FORKD_DEFAULT_KEY_FILE, err, errlen) != 0)
			return 2;
	}
	if (config_validate(cfg, err, errlen) != 0)
		return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "socket",	required_argument, NULL, 's' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "socket-group", required_argument, NULL, 'G' },
		{ "key",	required_argument, NULL, 'k' },
		{ "module",	required_argument, NULL, 'm' },
		{ "pool",	required_argument, NULL, 'P' },
		{ "spawn-cpu",	required_argument, NULL, 'C' },
		{ "verbose",	no_argument,	   NULL, 'v' },
		{ "quiet",	no_argument,	   NULL, 'q' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ "version",	no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 cfg;
	const char	*config_path = NULL;
	char		 err[1024];
	int		 ch, r, verbose = 0, quiet = 0, journald;

	stdio_open();
	config_init(&cfg);
	journald = getenv("JOURNAL_STREAM") != NULL ||
	    getenv("INVOCATION_ID") != NULL;
	log_init(LOG_LVL_INFO, journald);

	opterr = 0;	/* our own messages, as "forkd: ...", below */
	while ((ch = getopt_long(argc, argv, ":c:s:k:m:vqhV", longopts,
	    NULL)) != -1) {
		if ((r = main_setting(&cfg, ch, optarg, err, sizeof err)) < 0)
			goto badarg;
		if (r > 0)
			continue;
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("forkd %s\n", FORKD_VERSION_STRING);
			return 0;
		case ':':
			snprintf(err, sizeof err, "option %s needs a value",
			    argv[optind - 1]);
			goto badarg;
		default:
			/* optopt: an unknown short option (in a cluster
			 * too); 0 for an unknown long one. */
			if (optopt != 0)
				snprintf(err, sizeof err, "unknown option -%c",
				    optopt);
			else
				snprintf(err, sizeof err, "unknown option %s",
				    argv[optind - 1]);
			goto badarg;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "forkd: unexpected argument '%s'\n"
		    "Try 'forkd --help'.\n", argv[optind]);
		return 2;
	}
	if (verbose || quiet) {
		cfg.log_level = quiet ? LOG_LVL_WARNING : LOG_LVL_DEBUG;
		cfg.cli_set |= CONFIG_CLI_LOGLEVEL;
	}
	if ((r = main_configure(&cfg, config_path, err, sizeof err)) == 2)
		goto badarg;
	if (r != 0) {
		fprintf(stderr, "forkd: %s\n", err);
		return r;
	}
	log_set_level(cfg.log_level);
	server_init(&cfg, config_path);
	return server_loop();

badarg:
	fprintf(stderr, "forkd: %s\nTry 'forkd --help'.\n", err);
	config_free(&cfg);
	return 2;
}
