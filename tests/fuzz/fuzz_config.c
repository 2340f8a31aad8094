/* fuzz_config.c: libFuzzer target for the config file parser
 * (daemon/config.c on top of inih).
 *
 * The input is the file: it is written to a memfd and read through
 * /proc/self/fd/N, the path forkd would be given with -c. Per input:
 * config_load_file() over the defaults, once as is and once with every
 * setting already given on the command line (cli_set), then
 * config_validate() and config_free(); and the SIGHUP path,
 * config_reload() (limits, policy, log level) and config_reload_limits().
 * Checked besides ASan/UBSan/LSan: a failure comes with a message; a
 * success leaves every limit within its documented bounds and the log
 * level and socket mode valid; command-line settings are never overridden;
 * the reloads leave their outputs untouched on failure, agree with each
 * other, and succeed with the same limits and level whenever the full
 * load did.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "config.h"
#include "forkd_limits.h"
#include "fuzz_check.h"
#include "log.h"
#include "wire.h"

#define CLI_ALL		(CONFIG_CLI_SOCKET | CONFIG_CLI_KEY | \
			 CONFIG_CLI_MODULES | CONFIG_CLI_LOGLEVEL | \
			 CONFIG_CLI_MODE)

static int	fuzz_fd = -1;
static char	fuzz_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* forkd.conf(5)'s bounds; config_init()'s defaults lie within them. */
static void
fuzz_check_limits(const struct config_limits *l)
{
	CHECK(l->max_connections >= 1 && l->max_connections <= 65536,
	    "max_connections %u", l->max_connections);
	CHECK(l->max_children >= 1 && l->max_children <= 1048576,
	    "max_children %u", l->max_children);
	CHECK(l->max_frame >= 1024 && l->max_frame <= WIRE_FRAME_HARD_MAX,
	    "max_frame %u", l->max_frame);
	CHECK(l->handshake_timeout_ms >= 10 &&
	    l->handshake_timeout_ms <= 600000, "handshake_timeout_ms %u",
	    l->handshake_timeout_ms);
	CHECK(l->max_argv >= 1 && l->max_argv <= LIMIT_ARGV_MAX,
	    "max_argv %u", l->max_argv);
	CHECK(l->max_env <= LIMIT_ENV_MAX, "max_env %u", l->max_env);
	CHECK(l->max_fds <= WIRE_MAX_FDS, "max_fds %u", l->max_fds);
	CHECK(l->kill_grace_ms <= 600000, "kill_grace_ms %u",
	    l->kill_grace_ms);
}

static void
fuzz_check_level(int level)
{
	CHECK(level >= LOG_LVL_ERR && level <= LOG_LVL_DEBUG, "log level %d",
	    level);
}

/* A message was written and is terminated. */
static void
fuzz_check_errbuf(const char *err, size_t len)
{
	CHECK(memchr(err, '\0', len) != NULL, "error message not terminated");
	CHECK(err[0] != '\0', "failure without a message");
}

/* Load the file over the defaults, with settings preset as if given on the
 * command line when cli is set. Returns config_load_file()'s result and
 * the limits and level through ret_*. */
static int
fuzz_load(int cli, struct config_limits *ret_limits, int *ret_level)
{
	struct config	c;
	char		err[512];
	int		r;

	config_init(&c);
	if (cli) {
		c.cli_set = CLI_ALL;
		c.socket_path = strdup("/cli/forkd.sock");
		c.key_file = strdup("/cli/authkey");
		c.modules[0] = strdup("/cli/module.so");
		c.n_modules = 1;
		c.log_level = LOG_LVL_NOTICE;
		c.socket_mode = 0640;
		CHECK(c.socket_path && c.key_file && c.modules[0], "strdup");
	}
	memset(err, 'x', sizeof err);
	r = config_load_file(&c, fuzz_path, err, sizeof err);
	if (r != 0) {
		CHECK(r < 0, "config_load_file returned %d", r);
		fuzz_check_errbuf(err, sizeof err);
	} else {
		fuzz_check_limits(&c.limits);
		fuzz_check_level(c.log_level);
		CHECK(c.socket_mode <= 0777, "socket_mode %o",
		    (unsigned)c.socket_mode);
		CHECK(c.n_modules <= CONFIG_MODULES_MAX, "%zu modules",
		    c.n_modules);
		for (size_t i = 0; i < c.n_modules; i++)
			CHECK(c.modules[i] != NULL && c.modules[i][0] != '\0',
			    "module %zu empty", i);
		CHECK(c.socket_path == NULL || c.socket_path[0] != '\0',
		    "empty socket path");
		CHECK(c.key_file == NULL || c.key_file[0] != '\0',
		    "empty key file");
		memset(err, 'x', sizeof err);
		if (config_validate(&c, err, sizeof err) != 0) {
			CHECK(c.key_file == NULL, "valid config refused");
			fuzz_check_errbuf(err, sizeof err);
		} else
			CHECK(c.key_file != NULL, "config without a key file "
			    "validated");
		*ret_limits = c.limits;
		*ret_level = c.log_level;
	}
	if (cli) {
		/* The command line wins, even over a file that failed half
		 * way through. */
		CHECK(strcmp(c.socket_path, "/cli/forkd.sock") == 0 &&
		    strcmp(c.key_file, "/cli/authkey") == 0 &&
		    c.n_modules == 1 &&
		    strcmp(c.modules[0], "/cli/module.so") == 0 &&
		    c.log_level == LOG_LVL_NOTICE && c.socket_mode == 0640,
		    "a command-line setting was overridden by the file");
	}
	config_free(&c);
	return r;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_LVL_ERR, 0);
	fuzz_fd = memfd_create("forkd-fuzz.conf", MFD_CLOEXEC);
	if (fuzz_fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_limits	lim, sentinel, full_lim, lim2;
	struct config_policy	pol, pol_sentinel;
	char			err[512];
	int			level, level2, full_level = 0, r, r2, full;

	if (ftruncate(fuzz_fd, 0) != 0 ||
	    (size > 0 && pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)) {
		perror("memfd write");
		abort();
	}

	full = fuzz_load(0, &full_lim, &full_level);
	(void)fuzz_load(1, &lim, &level);

	/* SIGHUP: outputs untouched on failure. */
	memset(&sentinel, 0xa5, sizeof sentinel);
	lim = sentinel;
	level = -12345;
	memset(err, 'x', sizeof err);
	r = config_reload_limits(fuzz_path, &lim, &level, err, sizeof err);
	if (r != 0) {
		CHECK(r < 0, "config_reload_limits returned %d", r);
		fuzz_check_errbuf(err, sizeof err);
		CHECK(memcmp(&lim, &sentinel, sizeof lim) == 0 &&
		    level == -12345, "outputs changed on failure");
		CHECK(full != 0, "reload failed (%s) where the load did not",
		    err);
	} else {
		fuzz_check_limits(&lim);
		fuzz_check_level(level);
		if (full == 0)
			CHECK(memcmp(&lim, &full_lim, sizeof lim) == 0 &&
			    level == full_level, "reload read other limits "
			    "than the load");
	}

	/* The same with the policy. */
	memset(&pol_sentinel, 0xa5, sizeof pol_sentinel);
	pol = pol_sentinel;
	lim2 = sentinel;
	level2 = -12345;
	memset(err, 'x', sizeof err);
	r2 = config_reload(fuzz_path, &lim2, &pol, &level2, err, sizeof err);
	CHECK(r2 == r, "config_reload returned %d, config_reload_limits %d",
	    r2, r);
	if (r2 != 0) {
		fuzz_check_errbuf(err, sizeof err);
		CHECK(memcmp(&lim2, &sentinel, sizeof lim2) == 0 &&
		    memcmp(&pol, &pol_sentinel, sizeof pol) == 0 &&
		    level2 == -12345, "outputs changed on failure");
	} else {
		CHECK(memcmp(&lim2, &lim, sizeof lim2) == 0 && level2 == level,
		    "the two reloads read different limits");
		config_policy_free(&pol);
	}
	return 0;
}
