/* test_config.c: defaults, settings, INI files and reloads
 * (daemon/config.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "forkd_limits.h"
#include "log.h"
#include "wire.h"

static char	tmpdir[] = "/tmp/forkd-test-config.XXXXXX";

#define EXPECT_RC(got, want, what) do {					\
	int g_ = (got), w_ = (want);					\
	if (g_ != w_)							\
		fail_msg("%s: returned %d (%s), expected %d (%s)",	\
		    (what), g_, g_ < 0 ? strerror(-g_) : "ok", w_,	\
		    w_ < 0 ? strerror(-w_) : "ok");			\
} while (0)

#define EXPECT_MSG(msg, needle, what) do {				\
	if (strstr((msg), (needle)) == NULL)				\
		fail_msg("%s: message \"%s\" does not mention \"%s\"",	\
		    (what), (msg), (needle));				\
} while (0)

#define EXPECT_STR(got, want, what) do {				\
	const char *g_ = (got), *w_ = (want);				\
	if (g_ == NULL || strcmp(g_, w_) != 0)				\
		fail_msg("%s: \"%s\", expected \"%s\"", (what),		\
		    g_ ? g_ : "(null)", w_);				\
} while (0)

#define EXPECT_UINT(got, want, what) do {				\
	unsigned long long g_ = (got), w_ = (want);			\
	if (g_ != w_)							\
		fail_msg("%s: %llu, expected %llu", (what), g_, w_);	\
} while (0)

static int
setup(void **state)
{
	log_init(LOG_LVL_ERR, 0);
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write text to tmpdir/name; returns the path (static buffer). */
static const char *
write_ini(const char *name, const char *text)
{
	static char	 path[256];
	FILE		*f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Built-in defaults. */
static void
test_defaults(void **state)
{
	struct config c;

	config_init(&c);
	assert_null(c.socket_path);
	assert_null(c.key_file);
	assert_int_equal(c.n_modules, 0);
	EXPECT_UINT(c.socket_mode, 0600, "socket_mode");
	EXPECT_UINT(c.log_level, LOG_LVL_INFO, "log_level");
	EXPECT_UINT(c.cli_set, 0, "cli_set");
	assert_int_equal(c.spawn_cpu, -1);	/* none */
	EXPECT_UINT(c.limits.max_connections, 64, "max_connections");
	EXPECT_UINT(c.limits.handshake_timeout_ms, 5000, "handshake_timeout_ms");
	EXPECT_UINT(c.limits.max_frame, 65536, "max_frame");
	EXPECT_UINT(c.limits.max_children, 1024, "max_children");
	EXPECT_UINT(c.limits.max_argv, 1024, "max_argv");
	EXPECT_UINT(c.limits.max_env, 1024, "max_env");
	EXPECT_UINT(c.limits.max_fds, 16, "max_fds");
	EXPECT_UINT(c.limits.kill_grace_ms, 2000, "kill_grace_ms");
	EXPECT_UINT(c.limits.max_children_per_uid, 256, "max_children_per_uid");
	EXPECT_UINT(c.limits.max_spawn_rate, 0, "max_spawn_rate (off)");
	EXPECT_UINT(c.limits.idle_timeout_ms, 0, "idle_timeout_ms (off)");
	/* The default policy allows everything. */
	EXPECT_UINT(c.policy.allow_exec, 1, "policy.allow_exec");
	EXPECT_UINT(c.policy.targets_set, 0, "policy.allow_targets set");
	EXPECT_UINT(c.policy.exec_paths_set, 0, "policy.allow_exec_paths set");
	EXPECT_UINT(c.policy.uids_set, 0, "policy.allow_uids set");
	config_free(&c);
	config_free(&c);	/* twice is harmless */
}

/* Every [forkd] key, good and bad values. */
static void
test_set_forkd_keys(void **state)
{
	struct config	c;
	char		err[256];

	config_init(&c);
	EXPECT_RC(config_set(&c, "forkd", "socket", "/run/x.sock", err,
	    sizeof err), 0, "socket");
	EXPECT_STR(c.socket_path, "/run/x.sock", "socket_path");
	EXPECT_RC(config_set(&c, "", "socket", "/run/y.sock", err, sizeof err),
	    0, "socket outside any section");
	EXPECT_STR(c.socket_path, "/run/y.sock", "socket_path replaced");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "forkd", "socket", "", err, sizeof err),
	    -EINVAL, "empty socket");
	EXPECT_MSG(err, "socket", "empty socket");
	EXPECT_STR(c.socket_path, "/run/y.sock", "socket_path after a bad set");

	EXPECT_RC(config_set(&c, "forkd", "key_file", "/k", err, sizeof err),
	    0, "key_file");
	EXPECT_STR(c.key_file, "/k", "key_file");
	EXPECT_RC(config_set(&c, "forkd", "key_file", "", err, sizeof err),
	    -EINVAL, "empty key_file");
	EXPECT_MSG(err, "key_file", "empty key_file");

	EXPECT_RC(config_set(&c, "forkd", "socket_mode", "0660", err,
	    sizeof err), 0, "socket_mode 0660");
	EXPECT_UINT(c.socket_mode, 0660, "socket_mode");
	EXPECT_RC(config_set(&c, "forkd", "socket_mode", "600", err,
	    sizeof err), 0, "socket_mode 600 (octal without 0)");
	EXPECT_UINT(c.socket_mode, 0600, "socket_mode");
	{
		const char *bad[] = { "", "0999", "8", "01000", "rw-", "0660x",
		    "-1", "77777777777777777777777" };

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			char what[64];

			snprintf(what, sizeof what, "socket_mode '%s'", bad[i]);
			err[0] = '\0';
			EXPECT_RC(config_set(&c, "forkd", "socket_mode", bad[i],
			    err, sizeof err), -EINVAL, what);
			EXPECT_MSG(err, "socket_mode", what);
			EXPECT_UINT(c.socket_mode, 0600, what);
		}
	}

	EXPECT_RC(config_set(&c, "forkd", "module", "/m/a.so", err, sizeof err),
	    0, "module 1");
	EXPECT_RC(config_set(&c, "forkd", "module", "/m/b.so:size_mb=64", err,
	    sizeof err), 0, "module 2");
	assert_int_equal(c.n_modules, 2);
	EXPECT_STR(c.modules[0], "/m/a.so", "modules[0]");
	EXPECT_STR(c.modules[1], "/m/b.so:size_mb=64", "modules[1]");
	EXPECT_RC(config_set(&c, "forkd", "module", "", err, sizeof err),
	    -EINVAL, "empty module");
	for (int i = 2; i < CONFIG_MODULES_MAX; i++)
		EXPECT_RC(config_set(&c, "forkd", "module", "/m/x.so", err,
		    sizeof err), 0, "module up to the maximum");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "forkd", "module", "/m/one-too-many.so", err,
	    sizeof err), -E2BIG, "module over CONFIG_MODULES_MAX");
	EXPECT_MSG(err, "module", "too many modules");
	assert_int_equal(c.n_modules, CONFIG_MODULES_MAX);

	{
		static const struct { const char *s; int l; } lv[] = {
			{ "err", LOG_LVL_ERR }, { "warning", LOG_LVL_WARNING },
			{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
			{ "debug", LOG_LVL_DEBUG }, { "DEBUG", LOG_LVL_DEBUG },
		};

		for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++) {
			EXPECT_RC(config_set(&c, "forkd", "log_level", lv[i].s,
			    err, sizeof err), 0, lv[i].s);
			EXPECT_UINT(c.log_level, lv[i].l, lv[i].s);
		}
	}
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "forkd", "log_level", "loud", err, sizeof err),
	    -EINVAL, "log_level loud");
	EXPECT_MSG(err, "log_level", "log_level loud");
	EXPECT_UINT(c.log_level, LOG_LVL_DEBUG, "log_level after a bad set");

	/* spawn_cpu: none or a CPU number below CPU_SETSIZE. */
	EXPECT_RC(config_set(&c, "forkd", "spawn_cpu", "3", err, sizeof err),
	    0, "spawn_cpu 3");
	assert_int_equal(c.spawn_cpu, 3);
	EXPECT_RC(config_set(&c, "forkd", "spawn_cpu", "1023", err,
	    sizeof err), 0, "spawn_cpu 1023");
	assert_int_equal(c.spawn_cpu, 1023);
	EXPECT_RC(config_set(&c, "forkd", "spawn_cpu", "none", err,
	    sizeof err), 0, "spawn_cpu none");
	assert_int_equal(c.spawn_cpu, -1);
	{
		static const char *const bad[] = { "1024", "-1", "", "one",
		    "2x", "4294967296" };

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			err[0] = '\0';
			EXPECT_RC(config_set(&c, "forkd", "spawn_cpu", bad[i],
			    err, sizeof err), -EINVAL, bad[i]);
			EXPECT_MSG(err, "spawn_cpu", "bad spawn_cpu");
			assert_int_equal(c.spawn_cpu, -1);
		}
	}

	err[0] = '\0';
	EXPECT_RC(config_set(&c, "forkd", "sockett", "/x", err, sizeof err),
	    -ENOENT, "unknown key forkd.sockett");
	EXPECT_MSG(err, "sockett", "unknown key");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "forkdd", "socket", "/x", err, sizeof err),
	    -ENOENT, "unknown section [forkdd]");
	EXPECT_MSG(err, "forkdd", "unknown section");
	config_free(&c);
}

/* One row of the [limits] table. */
struct limit_case {
	const char	*name;
	size_t		 off;
	unsigned int	 good;		/* a valid, non-default value */
	const char	*too_small;	/* NULL: 0 is valid */
	const char	*too_big;
};

#define LC(n, g, lo, hi) { #n, offsetof(struct config_limits, n), g, lo, hi }
static const struct limit_case limit_cases[] = {
	LC(max_connections, 7, "0", "4294967296"),
	LC(max_children, 99, "0", "4294967296"),
	LC(max_frame, 4096, "0", "262145"),	/* > WIRE_FRAME_HARD_MAX */
	LC(handshake_timeout_ms, 250, "0", "4294967296"),
	LC(max_argv, 10, "0", "1025"),		/* > LIMIT_ARGV_MAX */
	LC(max_env, 0, NULL, "1025"),		/* > LIMIT_ENV_MAX */
	LC(max_fds, 3, NULL, "17"),		/* > WIRE_MAX_FDS */
	LC(kill_grace_ms, 0, NULL, "4294967296"),
	LC(max_children_per_uid, 7, "0", "1048577"),
	LC(max_spawn_rate, 5, NULL, "1000001"),	/* 0: unlimited */
	LC(idle_timeout_ms, 1500, NULL, "86400001"),	/* 0: off */
};
#undef LC

static unsigned int
limit_get(const struct config *c, const struct limit_case *lc)
{
	return *(const unsigned int *)((const char *)&c->limits + lc->off);
}

/* Every [limits] key: good values, bad numbers, out of range. */
static void
test_set_limits(void **state)
{
	static const char *const junk[] = { "", "-1", "+5", "12abc", "0x10",
	    "5 ", "1e3", "99999999999999999999999", "ten" };
	struct config	c;
	char		err[256], what[128], val[32];

	for (size_t i = 0; i < sizeof limit_cases / sizeof limit_cases[0];
	    i++) {
		const struct limit_case *lc = &limit_cases[i];
		unsigned int def;

		config_init(&c);
		def = limit_get(&c, lc);
		snprintf(val, sizeof val, "%u", lc->good);
		snprintf(what, sizeof what, "limits.%s = %s", lc->name, val);
		EXPECT_RC(config_set(&c, "limits", lc->name, val, err,
		    sizeof err), 0, what);
		EXPECT_UINT(limit_get(&c, lc), lc->good, what);
		config_init(&c);

		for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++) {
			snprintf(what, sizeof what, "limits.%s = '%s'",
			    lc->name, junk[j]);
			err[0] = '\0';
			EXPECT_RC(config_set(&c, "limits", lc->name, junk[j],
			    err, sizeof err), -EINVAL, what);
			EXPECT_MSG(err, lc->name, what);
			EXPECT_UINT(limit_get(&c, lc), def, what);
		}
		if (lc->too_small != NULL) {
			snprintf(what, sizeof what, "limits.%s = %s (too "
			    "small)", lc->name, lc->too_small);
			EXPECT_RC(config_set(&c, "limits", lc->name,
			    lc->too_small, err, sizeof err), -EINVAL, what);
			EXPECT_UINT(limit_get(&c, lc), def, what);
		} else {
			snprintf(what, sizeof what, "limits.%s = 0", lc->name);
			EXPECT_RC(config_set(&c, "limits", lc->name, "0", err,
			    sizeof err), 0, what);
			EXPECT_UINT(limit_get(&c, lc), 0, what);
			config_init(&c);
		}
		snprintf(what, sizeof what, "limits.%s = %s (too big)",
		    lc->name, lc->too_big);
		err[0] = '\0';
		EXPECT_RC(config_set(&c, "limits", lc->name, lc->too_big, err,
		    sizeof err), -EINVAL, what);
		EXPECT_MSG(err, lc->name, what);
		EXPECT_UINT(limit_get(&c, lc), def, what);
		config_free(&c);
	}

	/* The hard ceilings themselves are accepted. */
	config_init(&c);
	snprintf(val, sizeof val, "%d", WIRE_FRAME_HARD_MAX);
	EXPECT_RC(config_set(&c, "limits", "max_frame", val, err, sizeof err),
	    0, "max_frame = WIRE_FRAME_HARD_MAX");
	snprintf(val, sizeof val, "%d", WIRE_MAX_FDS);
	EXPECT_RC(config_set(&c, "limits", "max_fds", val, err, sizeof err), 0,
	    "max_fds = WIRE_MAX_FDS");
	snprintf(val, sizeof val, "%d", LIMIT_ARGV_MAX);
	EXPECT_RC(config_set(&c, "limits", "max_argv", val, err, sizeof err),
	    0, "max_argv = LIMIT_ARGV_MAX");

	err[0] = '\0';
	EXPECT_RC(config_set(&c, "limits", "max_spoons", "3", err, sizeof err),
	    -ENOENT, "unknown limit");
	EXPECT_MSG(err, "max_spoons", "unknown limit");
	/* Limits belong in [limits] only. */
	EXPECT_RC(config_set(&c, "forkd", "max_children", "3", err, sizeof err),
	    -ENOENT, "max_children in [forkd]");
	config_free(&c);
}

/* A full file. */
static void
test_load_file(void **state)
{
	const char	*p;
	struct config	 c;
	char		 err[512] = "";

	p = write_ini("full.conf",
	    "; forkd test config\n"
	    "# comment styles both\n"
	    "[forkd]\n"
	    "socket = /tmp/t.sock\n"
	    "socket_mode = 0660\n"
	    "key_file = /tmp/t.key\n"
	    "module = /m/pi.so\n"
	    "module = /m/bench.so:size_mb=8\n"
	    "module = /m/third.so\n"
	    "log_level = debug\n"
	    "\n"
	    "[limits]\n"
	    "max_connections = 10\n"
	    "max_children = 20\n"
	    "max_frame = 2048\n"
	    "handshake_timeout_ms = 100\n"
	    "max_argv = 30\n"
	    "max_env = 40\n"
	    "max_fds = 5\n"
	    "kill_grace_ms = 60\n");
	config_init(&c);
	if (config_load_file(&c, p, err, sizeof err) != 0)
		fail_msg("config_load_file: %s", err);
	EXPECT_STR(c.socket_path, "/tmp/t.sock", "socket");
	EXPECT_UINT(c.socket_mode, 0660, "socket_mode");
	EXPECT_STR(c.key_file, "/tmp/t.key", "key_file");
	assert_int_equal(c.n_modules, 3);
	EXPECT_STR(c.modules[0], "/m/pi.so", "module 0");
	EXPECT_STR(c.modules[1], "/m/bench.so:size_mb=8", "module 1");
	EXPECT_STR(c.modules[2], "/m/third.so", "module 2");
	EXPECT_UINT(c.log_level, LOG_LVL_DEBUG, "log_level");
	EXPECT_UINT(c.limits.max_connections, 10, "max_connections");
	EXPECT_UINT(c.limits.max_children, 20, "max_children");
	EXPECT_UINT(c.limits.max_frame, 2048, "max_frame");
	EXPECT_UINT(c.limits.handshake_timeout_ms, 100, "handshake_timeout_ms");
	EXPECT_UINT(c.limits.max_argv, 30, "max_argv");
	EXPECT_UINT(c.limits.max_env, 40, "max_env");
	EXPECT_UINT(c.limits.max_fds, 5, "max_fds");
	EXPECT_UINT(c.limits.kill_grace_ms, 60, "kill_grace_ms");
	EXPECT_RC(config_validate(&c, err, sizeof err), 0, "validate");
	config_free(&c);

	/* An empty file changes nothing. */
	p = write_ini("empty.conf", "");
	config_init(&c);
	EXPECT_RC(config_load_file(&c, p, err, sizeof err), 0, "empty file");
	EXPECT_UINT(c.limits.max_children, 1024, "max_children default");
	config_free(&c);
}

/* Settings given on the command line win over the file. */
static void
test_cli_wins(void **state)
{
	const char	*p;
	struct config	 c;
	char		 err[512] = "";

	p = write_ini("cli.conf",
	    "[forkd]\n"
	    "socket = /file.sock\n"
	    "socket_mode = 0666\n"
	    "key_file = /file.key\n"
	    "module = /file/a.so\n"
	    "module = /file/b.so\n"
	    "log_level = err\n"
	    "spawn_cpu = 1\n"
	    "[limits]\n"
	    "max_children = 5\n");
	config_init(&c);
	EXPECT_RC(config_set(&c, "forkd", "socket", "/cli.sock", err,
	    sizeof err), 0, "cli socket");
	EXPECT_RC(config_set(&c, "forkd", "socket_mode", "0640", err,
	    sizeof err), 0, "cli mode");
	EXPECT_RC(config_set(&c, "forkd", "key_file", "/cli.key", err,
	    sizeof err), 0, "cli key");
	EXPECT_RC(config_set(&c, "forkd", "module", "/cli/m.so", err,
	    sizeof err), 0, "cli module");
	EXPECT_RC(config_set(&c, "forkd", "spawn_cpu", "none", err,
	    sizeof err), 0, "cli spawn_cpu");
	c.log_level = LOG_LVL_DEBUG;
	c.cli_set = CONFIG_CLI_SOCKET | CONFIG_CLI_KEY | CONFIG_CLI_MODULES |
	    CONFIG_CLI_LOGLEVEL | CONFIG_CLI_MODE | CONFIG_CLI_SPAWN_CPU;
	if (config_load_file(&c, p, err, sizeof err) != 0)
		fail_msg("config_load_file: %s", err);
	EXPECT_STR(c.socket_path, "/cli.sock", "socket (cli)");
	EXPECT_UINT(c.socket_mode, 0640, "socket_mode (cli)");
	EXPECT_STR(c.key_file, "/cli.key", "key_file (cli)");
	if (c.n_modules != 1)
		fail_msg("%zu modules after loading a file with 2 over 1 from "
		    "the command line, expected only the command line's 1",
		    c.n_modules);
	EXPECT_STR(c.modules[0], "/cli/m.so", "module (cli)");
	EXPECT_UINT(c.log_level, LOG_LVL_DEBUG, "log_level (cli)");
	EXPECT_UINT(c.limits.max_children, 5, "limits still from the file");
	assert_int_equal(c.spawn_cpu, -1);	/* none from the command line */
	config_free(&c);

	/* Only the socket from the command line: the rest from the file. */
	config_init(&c);
	EXPECT_RC(config_set(&c, "forkd", "socket", "/cli.sock", err,
	    sizeof err), 0, "cli socket");
	c.cli_set = CONFIG_CLI_SOCKET;
	if (config_load_file(&c, p, err, sizeof err) != 0)
		fail_msg("config_load_file: %s", err);
	EXPECT_STR(c.socket_path, "/cli.sock", "socket (cli)");
	EXPECT_STR(c.key_file, "/file.key", "key_file (file)");
	EXPECT_UINT(c.socket_mode, 0666, "socket_mode (file)");
	assert_int_equal(c.n_modules, 2);
	EXPECT_UINT(c.log_level, LOG_LVL_ERR, "log_level (file)");
	assert_int_equal(c.spawn_cpu, 1);	/* from the file */
	config_free(&c);

	/* A bad value stays an error when the command line overrides it
	 * (forkd -q with log_level = loud in the file), and the command
	 * line's value is kept. */
	p = write_ini("cli-bad.conf", "[forkd]\nlog_level = loud\n");
	config_init(&c);
	c.log_level = LOG_LVL_WARNING;
	c.cli_set = CONFIG_CLI_LOGLEVEL;
	EXPECT_RC(config_load_file(&c, p, err, sizeof err), -EINVAL,
	    "overridden log_level = loud");
	EXPECT_MSG(err, "cli-bad.conf:2: log_level", "overridden log_level");
	EXPECT_UINT(c.log_level, LOG_LVL_WARNING, "log_level (cli)");
	config_free(&c);
	p = write_ini("cli-bad2.conf", "[limits]\npool_max = 300\n");
	config_init(&c);
	c.cli_set = CONFIG_CLI_POOL;
	EXPECT_RC(config_load_file(&c, p, err, sizeof err), -EINVAL,
	    "overridden pool_max = 300");
	EXPECT_MSG(err, "pool_max", "overridden pool_max");
	config_free(&c);
}

/* Load path expecting failure want with "path:line:" and a needle. */
static void
expect_file_error(const char *name, const char *text, int want, int line,
    const char *needle)
{
	const char	*p;
	struct config	 c;
	char		 err[512] = "", prefix[300], what[300];
	int		 r;

	p = write_ini(name, text);
	snprintf(prefix, sizeof prefix, "%s:%d: ", p, line);
	snprintf(what, sizeof what, "config file %s", name);
	config_init(&c);
	r = config_load_file(&c, p, err, sizeof err);
	if (r != want)
		fail_msg("%s: returned %d (%s) with message \"%s\", expected "
		    "%d (%s)", what, r, strerror(-r), err, want,
		    strerror(-want));
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("%s: message \"%s\" does not start with \"%s\"", what,
		    err, prefix);
	if (needle != NULL)
		EXPECT_MSG(err, needle, what);
	config_free(&c);
}

/* config_load_file(path) returns want, with needle in the message. */
static void
expect_load(const char *path, int want, const char *needle, const char *what)
{
	struct config	c;
	char		err[512] = "";

	config_init(&c);
	EXPECT_RC(config_load_file(&c, path, err, sizeof err), want, what);
	EXPECT_MSG(err, needle, what);
	config_free(&c);
}

/* Errors carry FILE:LINE. */
static void
test_file_errors(void **state)
{
	const char	*p;
	struct config	c;
	char		err[512] = "", path[300];

	expect_file_error("badnum.conf",
	    "[forkd]\nsocket = /x\n[limits]\nmax_children = lots\n",
	    -EINVAL, 4, "max_children");
	expect_file_error("range.conf",
	    "[limits]\n\n\nmax_fds = 99\n\n", -EINVAL, 4, "max_fds");
	expect_file_error("unknown.conf",
	    "[forkd]\nsocket = /x\nfrobnicate = yes\n", -ENOENT, 3,
	    "frobnicate");
	/* An unknown section is named at its own line, with keys or not
	 * (inih alone says nothing of an empty one). */
	expect_file_error("section.conf",
	    "[forkd]\nsocket = /x\n[nonsense]\nkey = 1\n", -ENOENT, 3,
	    "unknown section [nonsense]");
	expect_file_error("section-empty.conf",
	    "[forkd]\nsocket = /x\n\n[limit]\n; max_fds = 9\n", -ENOENT, 4,
	    "unknown section [limit]");
	expect_file_error("section-space.conf",
	    "[ limits ]\nmax_fds = 9\n", -ENOENT, 1,
	    "unknown section [ limits ]");
	expect_file_error("mode.conf",
	    "[forkd]\nsocket_mode = 0999\n", -EINVAL, 2, "socket_mode");
	expect_file_error("level.conf",
	    "[forkd]\n; fine\nlog_level = chatty\n", -EINVAL, 3, "log_level");
	expect_file_error("noequals.conf",
	    "[forkd]\nsocket /x\n", -EINVAL, 2, NULL);
	/* inih would take an indented line as the continuation of the
	 * previous value (here: a socket path "key_file = /k") and split a
	 * line longer than its buffer in two: both are refused, by line.
	 * Indented comments and blank lines are fine. */
	expect_file_error("indent.conf",
	    "[forkd]\n  ; comment\n\t\nsocket = /x\n  key_file = /k\n",
	    -EINVAL, 5, "indented");
	{
		char text[400];

		snprintf(text, sizeof text, "[policy]\nallow_exec_paths = "
		    "%0*d\n", 200, 0);
		expect_file_error("long.conf", text, -EINVAL, 2, "longer");
		/* 199 bytes is the longest line inih reads whole (a
		 * comment: it would be split the same way). */
		snprintf(text, sizeof text, "[forkd]\n; %0*d\n", 199 - 2, 0);
		p = write_ini("long-ok.conf", text);
		config_init(&c);
		if (config_load_file(&c, p, err, sizeof err) != 0)
			fail_msg("a 199-byte line: %s", err);
		config_free(&c);
	}

	snprintf(path, sizeof path, "%s/does-not-exist.conf", tmpdir);
	expect_load(path, -ENOENT, path, "missing config file");
	/* Not a file: a directory (which reads as empty), a FIFO (which
	 * would block); a NUL byte (where inih would stop reading). */
	snprintf(path, sizeof path, "%s/conf.d", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_load(path, -EISDIR, path, "a directory as the config file");
	snprintf(path, sizeof path, "%s/conf.fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_load(path, -EINVAL, "not a regular file",
	    "a FIFO as the config file");
	p = write_ini("nul.conf", "[forkd]\nsocket = /x\n");
	{
		int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "\0log_level = err\n", 17), 17);
		close(fd);
	}
	expect_load(p, -EINVAL, "NUL", "a config file with a NUL byte");
	/* /dev/null: no settings at all, which is fine. */
	expect_load("/dev/null", 0, "", "/dev/null as the config file");
	/* Up to 1 MiB (of comment lines here), not a byte more. */
	{
		size_t	 max = 1024 * 1024;
		char	*big = malloc(max + 2);

		assert_non_null(big);
		for (size_t i = 0; i < max; i++)
			big[i] = i % 100 == 99 ? '\n' : '#';
		big[max] = '\0';
		expect_load(write_ini("big.conf", big), 0, "",
		    "a config file of 1 MiB");
		big[max] = '#';
		big[max + 1] = '\0';
		expect_load(write_ini("big.conf", big), -EFBIG, "larger than",
		    "a config file of 1 MiB + 1 byte");
		free(big);
	}
}

/* A syntax error followed by a good line: the error is the syntax error,
 * with its own line number (not a later line's message under the syntax
 * error's line number). */
static void
test_file_syntax_error(void **state)
{
	expect_file_error("syntax.conf",
	    "[forkd]\nsocket = /x\n[limits\nmax_fds = 2\n", -EINVAL, 3,
	    NULL);
	expect_file_error("syntax2.conf",
	    "[forkd]\nsocket /x\nkey_file = /k\n", -EINVAL, 2, NULL);
}

/* SIGHUP reload: only [limits] and log_level; nothing changes on error. */
static void
test_reload_limits(void **state)
{
	const char		*p;
	struct config_limits	 l;
	char			 err[512] = "";
	int			 level = -1;

	p = write_ini("reload.conf",
	    "[forkd]\n"
	    "socket = /ignored.sock\n"
	    "module = /ignored.so\n"
	    "log_level = warning\n"
	    "[limits]\n"
	    "max_children = 3\n"
	    "kill_grace_ms = 10\n");
	memset(&l, 0xab, sizeof l);
	if (config_reload_limits(p, &l, &level, err, sizeof err) != 0)
		fail_msg("config_reload_limits: %s", err);
	EXPECT_UINT(l.max_children, 3, "max_children");
	EXPECT_UINT(l.kill_grace_ms, 10, "kill_grace_ms");
	EXPECT_UINT(l.max_connections, 64, "max_connections (default)");
	EXPECT_UINT(l.max_frame, 65536, "max_frame (default)");
	EXPECT_UINT(level, LOG_LVL_WARNING, "log_level");

	/* Without log_level in the file: the default level. */
	p = write_ini("reload2.conf", "[limits]\nmax_fds = 2\n");
	if (config_reload_limits(p, &l, &level, err, sizeof err) != 0)
		fail_msg("config_reload_limits: %s", err);
	EXPECT_UINT(l.max_fds, 2, "max_fds");
	EXPECT_UINT(l.max_children, 1024, "max_children back to default");

	/* A bad file: error with FILE:LINE, outputs untouched. */
	p = write_ini("reload3.conf", "[limits]\nmax_fds = 1\nmax_frame = 1\n");
	memset(&l, 0xcd, sizeof l);
	level = 42;
	EXPECT_RC(config_reload_limits(p, &l, &level, err, sizeof err),
	    -EINVAL, "reload of a bad file");
	{
		char prefix[300];

		snprintf(prefix, sizeof prefix, "%s:3: ", p);
		if (strncmp(err, prefix, strlen(prefix)) != 0)
			fail_msg("reload error \"%s\" does not start with "
			    "\"%s\"", err, prefix);
	}
	EXPECT_UINT(l.max_fds, 0xcdcdcdcdu, "max_fds after failed reload");
	EXPECT_UINT(level, 42, "level after failed reload");

	/* The file replaced by a directory: an error, not an empty file
	 * (which would reset every limit and the policy to the defaults). */
	{
		char dir[300];

		snprintf(dir, sizeof dir, "%s/reload.d", tmpdir);
		assert_int_equal(mkdir(dir, 0700), 0);
		EXPECT_RC(config_reload_limits(dir, &l, &level, err,
		    sizeof err), -EISDIR, "reload of a directory");
		EXPECT_UINT(l.max_fds, 0xcdcdcdcdu,
		    "max_fds after reloading a directory");
	}
}

/* [policy] allow_exec: yes/no spellings; junk is refused. */
static void
test_policy_allow_exec(void **state)
{
	static const struct { const char *s; int v; } ok[] = {
		{ "no", 0 }, { "yes", 1 }, { "false", 0 }, { "true", 1 },
		{ "off", 0 }, { "on", 1 }, { "0", 0 }, { "1", 1 }, { "NO", 0 },
		{ "Yes", 1 },
	};
	static const char *const bad[] = { "", "nope", "2", "yes please",
	    "y" };
	struct config	c;
	char		err[256], what[64];

	config_init(&c);
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(what, sizeof what, "allow_exec = %s", ok[i].s);
		EXPECT_RC(config_set(&c, "policy", "allow_exec", ok[i].s, err,
		    sizeof err), 0, what);
		EXPECT_UINT(c.policy.allow_exec, ok[i].v, what);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(what, sizeof what, "allow_exec = '%s'", bad[i]);
		err[0] = '\0';
		EXPECT_RC(config_set(&c, "policy", "allow_exec", bad[i], err,
		    sizeof err), -EINVAL, what);
		EXPECT_MSG(err, "allow_exec", what);
		EXPECT_UINT(c.policy.allow_exec, 1, what);
	}
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_everything", "yes", err,
	    sizeof err), -ENOENT, "unknown key policy.allow_everything");
	EXPECT_MSG(err, "allow_everything", "unknown policy key");
	config_free(&c);
}

/* [policy] allow_targets: lists split on blanks and commas, repeated
 * lines add up, an empty value allows nothing, bad patterns refused. */
static void
test_policy_allow_targets(void **state)
{
	static const char *const bad[] = { "pi", "pi:", ":leibniz",
	    "/bin/true", "pi:* nomodule", "pi:\x01", "pi:\xc3\xa9" };
	struct config	c;
	char		err[256], what[64];

	config_init(&c);
	EXPECT_RC(config_set(&c, "policy", "allow_targets", "pi:*, bench:noop",
	    err, sizeof err), 0, "allow_targets = pi:*, bench:noop");
	EXPECT_UINT(c.policy.targets_set, 1, "targets_set");
	assert_int_equal(c.policy.n_targets, 2);
	EXPECT_STR(c.policy.targets[0], "pi:*", "targets[0]");
	EXPECT_STR(c.policy.targets[1], "bench:noop", "targets[1]");
	EXPECT_RC(config_set(&c, "policy", "allow_targets", "\t*:hello  *",
	    err, sizeof err), 0, "a second allow_targets line");
	assert_int_equal(c.policy.n_targets, 4);
	EXPECT_STR(c.policy.targets[2], "*:hello", "targets[2]");
	EXPECT_STR(c.policy.targets[3], "*", "targets[3]");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(what, sizeof what, "allow_targets = '%s'", bad[i]);
		err[0] = '\0';
		EXPECT_RC(config_set(&c, "policy", "allow_targets", bad[i], err,
		    sizeof err), -EINVAL, what);
		EXPECT_MSG(err, "allow_targets", what);
		/* All or nothing: a bad item adds none of the line. */
		if (c.policy.n_targets != 4)
			fail_msg("%s: %zu patterns after a refused line, "
			    "expected the 4 from before", what,
			    c.policy.n_targets);
	}
	config_free(&c);

	/* Set to nothing: nothing allowed (set, but empty). */
	config_init(&c);
	EXPECT_RC(config_set(&c, "policy", "allow_targets", "", err,
	    sizeof err), 0, "allow_targets = (empty)");
	EXPECT_UINT(c.policy.targets_set, 1, "targets_set after empty value");
	assert_int_equal(c.policy.n_targets, 0);
	config_free(&c);

	/* At most CONFIG_POLICY_MAX patterns. */
	config_init(&c);
	for (int i = 0; i < CONFIG_POLICY_MAX; i++)
		EXPECT_RC(config_set(&c, "policy", "allow_targets", "m:e", err,
		    sizeof err), 0, "patterns up to the maximum");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_targets", "one:more", err,
	    sizeof err), -E2BIG, "pattern over CONFIG_POLICY_MAX");
	EXPECT_MSG(err, "allow_targets", "too many patterns");
	assert_int_equal(c.policy.n_targets, CONFIG_POLICY_MAX);
	config_free(&c);
}

/* [policy] allow_exec_paths: canonicalized at load; directories need a
 * trailing '/'; missing, relative and mistyped entries refused. */
static void
test_policy_allow_exec_paths(void **state)
{
	struct config	c;
	char		err[512], real[PATH_MAX], want[PATH_MAX + 2];
	char		dir[300], link[300], file[300], rel[640];
	const char	*p;

	p = write_ini("prog", "#!/bin/sh\n");
	snprintf(file, sizeof file, "%s", p);
	snprintf(dir, sizeof dir, "%s/", tmpdir);
	snprintf(link, sizeof link, "%s/true-link", tmpdir);
	unlink(link);
	if (symlink("/bin/true", link) != 0)
		fail_msg("symlink %s: %s", link, strerror(errno));

	config_init(&c);
	/* A symlinked name is stored as what it resolves to. */
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", link, err,
	    sizeof err), 0, "allow_exec_paths = a symlink to /bin/true");
	if (realpath("/bin/true", real) == NULL)
		fail_msg("realpath /bin/true: %s", strerror(errno));
	EXPECT_STR(c.policy.exec_paths[0], real, "exec_paths[0] (resolved)");
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", dir, err,
	    sizeof err), 0, "allow_exec_paths = the temp dir/");
	if (realpath(tmpdir, real) == NULL)
		fail_msg("realpath %s: %s", tmpdir, strerror(errno));
	snprintf(want, sizeof want, "%s/", real);
	EXPECT_STR(c.policy.exec_paths[1], want, "exec_paths[1] (dir/)");
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", "/", err,
	    sizeof err), 0, "allow_exec_paths = /");
	EXPECT_STR(c.policy.exec_paths[2], "/", "exec_paths[2] (root)");
	/* ../ in an entry is resolved too. */
	snprintf(rel, sizeof rel, "%s/../%s/prog", tmpdir, strrchr(tmpdir,
	    '/') + 1);
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", rel, err,
	    sizeof err), 0, "allow_exec_paths with ../");
	if (realpath(file, real) == NULL)
		fail_msg("realpath %s: %s", file, strerror(errno));
	EXPECT_STR(c.policy.exec_paths[3], real, "exec_paths[3] (../ gone)");
	EXPECT_UINT(c.policy.exec_paths_set, 1, "exec_paths_set");

	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", tmpdir, err,
	    sizeof err), -EISDIR, "a directory without the trailing /");
	EXPECT_MSG(err, "directory", "a directory without the trailing /");
	snprintf(rel, sizeof rel, "%s/", file);
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", rel, err,
	    sizeof err), -ENOTDIR, "a file with a trailing /");
	EXPECT_MSG(err, "directory", "a file with a trailing /");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", "bin/true", err,
	    sizeof err), -EINVAL, "a relative path");
	EXPECT_MSG(err, "absolute", "a relative path");
	err[0] = '\0';
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths",
	    "/bin/true /no/such/forkd-prog", err, sizeof err), -ENOENT,
	    "a missing path");
	EXPECT_MSG(err, "/no/such/forkd-prog", "a missing path");
	if (c.policy.n_exec_paths != 4)
		fail_msg("%zu exec paths after refused lines, expected the 4 "
		    "from before", c.policy.n_exec_paths);
	config_free(&c);

	config_init(&c);
	EXPECT_RC(config_set(&c, "policy", "allow_exec_paths", " ", err,
	    sizeof err), 0, "allow_exec_paths = (blank)");
	EXPECT_UINT(c.policy.exec_paths_set, 1, "exec_paths_set when blank");
	assert_int_equal(c.policy.n_exec_paths, 0);
	config_free(&c);
	unlink(link);
}

/* [policy] allow_uids: numbers and user names (looked up at load). */
static void
test_policy_allow_uids(void **state)
{
	static const char *const bad[] = { "no-such-user-forkd", "12abc",
	    "4294967295", "99999999999999999999", "-1", "0x10" };
	struct passwd	*pw = getpwuid(0);
	struct config	 c;
	char		 err[256], what[64], val[48];

	if (pw == NULL)
		fail_msg("getpwuid(0): no user for uid 0");
	config_init(&c);
	snprintf(what, sizeof what, "1000, 65534 %s", pw->pw_name);
	EXPECT_RC(config_set(&c, "policy", "allow_uids", what, err,
	    sizeof err), 0, what);
	EXPECT_UINT(c.policy.uids_set, 1, "uids_set");
	assert_int_equal(c.policy.n_uids, 3);
	EXPECT_UINT(c.policy.uids[0], 1000, "uids[0]");
	EXPECT_UINT(c.policy.uids[1], 65534, "uids[1]");
	EXPECT_UINT(c.policy.uids[2], 0, "uids[2] (root by name)");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(val, sizeof val, "5 %s", bad[i]);
		snprintf(what, sizeof what, "allow_uids = %s", val);
		err[0] = '\0';
		EXPECT_RC(config_set(&c, "policy", "allow_uids", val, err,
		    sizeof err), -EINVAL, what);
		EXPECT_MSG(err, "allow_uids", what);
		EXPECT_MSG(err, bad[i], what);
		if (c.policy.n_uids != 3)
			fail_msg("%s: %zu uids after a refused line, expected "
			    "the 3 from before", what, c.policy.n_uids);
	}
	config_free(&c);

	config_init(&c);
	EXPECT_RC(config_set(&c, "policy", "allow_uids", "", err, sizeof err),
	    0, "allow_uids = (empty)");
	EXPECT_UINT(c.policy.uids_set, 1, "uids_set when empty");
	assert_int_equal(c.policy.n_uids, 0);
	config_free(&c);
}

/* [policy] allow_identity: parsed like allow_uids into its own list. */
static void
test_policy_allow_identity(void **state)
{
	static const char *const bad[] = { "no-such-user-forkd", "12abc",
	    "4294967295", "-1", "0x10" };
	struct passwd	*pw = getpwuid(0);
	struct config	 c;
	char		 err[256], what[96], val[48];

	if (pw == NULL)
		fail_msg("getpwuid(0): no user for uid 0");
	config_init(&c);
	EXPECT_UINT(c.policy.n_identity_uids, 0, "default n_identity_uids");
	snprintf(what, sizeof what, "1000, 65534 %s", pw->pw_name);
	EXPECT_RC(config_set(&c, "policy", "allow_identity", what, err,
	    sizeof err), 0, what);
	assert_int_equal(c.policy.n_identity_uids, 3);
	EXPECT_UINT(c.policy.identity_uids[0], 1000, "identity_uids[0]");
	EXPECT_UINT(c.policy.identity_uids[1], 65534, "identity_uids[1]");
	EXPECT_UINT(c.policy.identity_uids[2], 0,
	    "identity_uids[2] (root by name)");
	/* Its own list: allow_uids is untouched. */
	EXPECT_UINT(c.policy.uids_set, 0, "uids_set after allow_identity");
	EXPECT_UINT(c.policy.n_uids, 0, "n_uids after allow_identity");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(val, sizeof val, "5 %s", bad[i]);
		snprintf(what, sizeof what, "allow_identity = %s", val);
		err[0] = '\0';
		EXPECT_RC(config_set(&c, "policy", "allow_identity", val, err,
		    sizeof err), -EINVAL, what);
		EXPECT_MSG(err, "allow_identity", what);
		EXPECT_MSG(err, bad[i], what);
		if (c.policy.n_identity_uids != 3)
			fail_msg("%s: %zu uids after a refused line, expected "
			    "the 3 from before", what,
			    c.policy.n_identity_uids);
	}
	config_free(&c);
	EXPECT_UINT(c.policy.n_identity_uids, 0, "after config_free");
	if (c.policy.identity_uids != NULL)
		fail_msg("identity_uids not freed by config_free");
}

/* A [policy] section in a file, errors with FILE:LINE, and the SIGHUP
 * reload of limits and policy together. */
static void
test_policy_file_and_reload(void **state)
{
	const char		*p;
	struct config		 c;
	struct config_limits	 l;
	struct config_policy	 pol;
	char			 err[512] = "", path[300];
	int			 level = -1;

	p = write_ini("policy.conf",
	    "[limits]\n"
	    "max_children_per_uid = 3\n"
	    "max_spawn_rate = 0\n"
	    "idle_timeout_ms = 250\n"
	    "[policy]\n"
	    "allow_exec = no\n"
	    "allow_targets = pi:* bench:noop\n"
	    "allow_targets = bench:exit\n"
	    "allow_exec_paths = /bin/true\n"
	    "allow_uids = 0 65534\n"
	    "allow_identity = 65534\n");
	config_init(&c);
	if (config_load_file(&c, p, err, sizeof err) != 0)
		fail_msg("config_load_file: %s", err);
	EXPECT_UINT(c.limits.max_children_per_uid, 3, "max_children_per_uid");
	EXPECT_UINT(c.limits.max_spawn_rate, 0, "max_spawn_rate");
	EXPECT_UINT(c.limits.idle_timeout_ms, 250, "idle_timeout_ms");
	EXPECT_UINT(c.policy.allow_exec, 0, "allow_exec");
	assert_int_equal(c.policy.n_targets, 3);
	EXPECT_STR(c.policy.targets[2], "bench:exit", "targets[2]");
	assert_int_equal(c.policy.n_exec_paths, 1);
	assert_int_equal(c.policy.n_uids, 2);
	assert_int_equal(c.policy.n_identity_uids, 1);
	EXPECT_UINT(c.policy.identity_uids[0], 65534, "file identity_uids[0]");
	config_free(&c);
	snprintf(path, sizeof path, "%s", p);	/* write_ini() reuses p */

	expect_file_error("policy-bad.conf",
	    "[policy]\nallow_exec = yes\n\nallow_targets = pi\n", -EINVAL, 4,
	    "allow_targets");
	expect_file_error("policy-unknown.conf",
	    "[policy]\nallow_spawn = yes\n", -ENOENT, 2, "allow_spawn");
	expect_file_error("policy-user.conf",
	    "[policy]\nallow_uids = no-such-user-forkd\n", -EINVAL, 2,
	    "no-such-user-forkd");

	/* SIGHUP: limits, policy and log level come back together. */
	memset(&pol, 0, sizeof pol);
	if (config_reload(path, &l, &pol, &level, err, sizeof err) != 0)
		fail_msg("config_reload: %s", err);
	EXPECT_UINT(l.idle_timeout_ms, 250, "reloaded idle_timeout_ms");
	EXPECT_UINT(pol.allow_exec, 0, "reloaded allow_exec");
	assert_int_equal(pol.n_targets, 3);
	EXPECT_STR(pol.targets[0], "pi:*", "reloaded targets[0]");
	EXPECT_UINT(pol.uids_set, 1, "reloaded uids_set");
	assert_int_equal(pol.n_identity_uids, 1);
	EXPECT_UINT(pol.identity_uids[0], 65534, "reloaded identity_uids[0]");
	config_policy_free(&pol);
	EXPECT_UINT(pol.n_identity_uids, 0,
	    "n_identity_uids after config_policy_free");
	EXPECT_UINT(pol.allow_exec, 1, "allow_exec after config_policy_free");
	EXPECT_UINT(pol.n_targets, 0, "n_targets after config_policy_free");

	/* A bad [policy] keeps both limits and policy as they were. */
	p = write_ini("policy-reload-bad.conf",
	    "[limits]\nmax_children = 5\n[policy]\nallow_exec = maybe\n");
	memset(&l, 0xcd, sizeof l);
	memset(&pol, 0xcd, sizeof pol);
	level = 42;
	EXPECT_RC(config_reload(p, &l, &pol, &level, err, sizeof err),
	    -EINVAL, "reload with a bad [policy]");
	EXPECT_MSG(err, "allow_exec", "reload with a bad [policy]");
	EXPECT_UINT(l.max_children, 0xcdcdcdcdu, "limits after failed reload");
	EXPECT_UINT((unsigned)pol.allow_exec, 0xcdcdcdcdu,
	    "policy after failed reload");
	EXPECT_UINT(level, 42, "level after failed reload");
}

/* The sample config shipped for systemd (a restricted set-up) parses. */
static void
test_shipped_config(void **state)
{
	char		path[PATH_MAX], err[512] = "";
	const char	*slash;
	struct config	c;

	/* __FILE__ is tests/unit/test_config.c in the source tree. */
	slash = strstr(__FILE__, "tests/unit/test_config.c");
	if (slash == NULL || __FILE__[0] != '/')
		skip();
	snprintf(path, sizeof path, "%.*ssystemd/forkd.conf.in",
	    (int)(slash - __FILE__), __FILE__);
	config_init(&c);
	if (config_load_file(&c, path, err, sizeof err) != 0)
		fail_msg("shipped config %s: %s", path, err);
	EXPECT_UINT(c.policy.allow_exec, 0, "shipped allow_exec (no)");
	EXPECT_UINT(c.policy.targets_set, 1, "shipped allow_targets set");
	config_free(&c);
}

/* Cross-field validation: a key file is required. */
static void
test_validate(void **state)
{
	struct config	c;
	char		err[512] = "";

	config_init(&c);
	EXPECT_RC(config_validate(&c, err, sizeof err), -EINVAL,
	    "validate without key");
	EXPECT_MSG(err, "key", "validate without key");
	EXPECT_RC(config_set(&c, "forkd", "key_file", "/k", err, sizeof err),
	    0, "key_file");
	EXPECT_RC(config_validate(&c, err, sizeof err), 0, "validate");
	config_free(&c);
}

/* [forkd] cgroup_root: auto | none | an absolute path; default unset
 * (auto). */
static void
test_cgroup_root(void **state)
{
	static const char *const bad[] = { "", "relative/dir", "Auto",
	    "/sys/fs/cgroup/../etc", "/sys/fs/cgroup/a/..", NULL };
	struct config	c;
	char		err[256];

	config_init(&c);
	assert_null(c.cgroup_root);
	assert_int_equal(config_set(&c, "forkd", "cgroup_root", "none", err,
	    sizeof err), 0);
	assert_string_equal(c.cgroup_root, "none");
	assert_int_equal(config_set(&c, "forkd", "cgroup_root", "auto", err,
	    sizeof err), 0);
	assert_string_equal(c.cgroup_root, "auto");
	assert_int_equal(config_set(&c, "", "cgroup_root",
	    "/sys/fs/cgroup/forkd", err, sizeof err), 0);
	assert_string_equal(c.cgroup_root, "/sys/fs/cgroup/forkd");
	for (int i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		assert_int_equal(config_set(&c, "forkd", "cgroup_root", bad[i],
		    err, sizeof err), -EINVAL);
		assert_non_null(strstr(err, "cgroup_root"));
		assert_string_equal(c.cgroup_root, "/sys/fs/cgroup/forkd");
	}
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set_forkd_keys),
		cmocka_unit_test(test_set_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_cli_wins),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_syntax_error),
		cmocka_unit_test(test_reload_limits),
		cmocka_unit_test(test_policy_allow_exec),
		cmocka_unit_test(test_policy_allow_targets),
		cmocka_unit_test(test_policy_allow_exec_paths),
		cmocka_unit_test(test_policy_allow_uids),
		cmocka_unit_test(test_policy_allow_identity),
		cmocka_unit_test(test_policy_file_and_reload),
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_cgroup_root),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
