/* test_policy.c: the [policy] checks (daemon/policy.c): wildcard patterns,
 * uids, exec paths resolved against allow_exec_paths. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "policy.h"

static char	tmpdir[] = "/tmp/forkd-test-policy.XXXXXX";
static char	realdir[PATH_MAX];

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

static int
setup(void **state)
{
	log_init(LOG_LVL_ERR, 0);
	if (mkdtemp(tmpdir) == NULL || realpath(tmpdir, realdir) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Set a [policy] key or fail the test. */
static void
set(struct config *c, const char *key, const char *value)
{
	char err[512];

	if (config_set(c, "policy", key, value, err, sizeof err) != 0)
		fail_msg("policy.%s = %s: %s", key, value, err);
}

/* '*' matches any run of bytes, ':' included; nothing else is special. */
static void
test_glob(void **state)
{
	static const struct { const char *p, *s; int m; } cases[] = {
		{ "*", "", 1 }, { "*", "pi:leibniz", 1 },
		{ "pi:*", "pi:leibniz", 1 }, { "pi:*", "pi:", 1 },
		{ "pi:*", "pix:leibniz", 0 }, { "pi:*", "bench:noop", 0 },
		{ "bench:noop", "bench:noop", 1 },
		{ "bench:noop", "bench:noopx", 0 },
		{ "bench:noop", "bench:noo", 0 },
		{ "*:hello", "pi:hello", 1 }, { "*:hello", "pi:hello2", 0 },
		{ "b*h:*o*", "bench:echo", 1 }, { "b*h:*o*", "bench:exit", 0 },
		{ "**", "x", 1 }, { "a*b*c", "aXbYbZc", 1 },
		{ "a*b*c", "aXbYbZ", 0 }, { "?", "?", 1 }, { "?", "x", 0 },
		{ "[a]", "a", 0 }, { "", "", 1 }, { "", "x", 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (policy_glob(cases[i].p, cases[i].s) != cases[i].m)
			fail_msg("policy_glob(\"%s\", \"%s\") = %d, expected "
			    "%d", cases[i].p, cases[i].s, !cases[i].m,
			    cases[i].m);
}

/* allow_targets and allow_uids: unset allows all, empty allows none. */
static void
test_targets_and_uids(void **state)
{
	struct config c;

	config_init(&c);
	assert_true(policy_target_allowed(&c.policy, "anything:at-all"));
	assert_true(policy_uid_allowed(&c.policy, 0));
	assert_true(policy_uid_allowed(&c.policy, 12345));
	set(&c, "allow_targets", "pi:* bench:noop");
	set(&c, "allow_uids", "0 1000");
	if (!policy_target_allowed(&c.policy, "pi:leibniz"))
		fail_msg("pi:leibniz refused by pi:* bench:noop");
	if (!policy_target_allowed(&c.policy, "bench:noop"))
		fail_msg("bench:noop refused by pi:* bench:noop");
	if (policy_target_allowed(&c.policy, "bench:sleep"))
		fail_msg("bench:sleep allowed by pi:* bench:noop");
	if (!policy_uid_allowed(&c.policy, 1000) ||
	    policy_uid_allowed(&c.policy, 65534))
		fail_msg("allow_uids 0 1000: uid 1000 %d, uid 65534 %d",
		    policy_uid_allowed(&c.policy, 1000),
		    policy_uid_allowed(&c.policy, 65534));
	config_free(&c);

	config_init(&c);
	set(&c, "allow_targets", "");
	set(&c, "allow_uids", "");
	if (policy_target_allowed(&c.policy, "pi:leibniz"))
		fail_msg("an empty allow_targets allowed pi:leibniz");
	if (policy_uid_allowed(&c.policy, 0))
		fail_msg("an empty allow_uids allowed uid 0");
	config_free(&c);
}

/* allow_identity: never set allows nobody (root included), a list allows
 * exactly its uids, lines add up, and it is independent of allow_uids. */
static void
test_identity(void **state)
{
	struct config c;

	config_init(&c);
	for (uid_t u = 0; u < 3; u++)
		if (policy_identity_allowed(&c.policy, u))
			fail_msg("no allow_identity allowed uid %u", (unsigned)u);
	if (policy_identity_allowed(&c.policy, 65534))
		fail_msg("no allow_identity allowed uid 65534");
	set(&c, "allow_uids", "0 1000 2000");
	set(&c, "allow_identity", "1000");
	set(&c, "allow_identity", "3000");
	if (!policy_identity_allowed(&c.policy, 1000) ||
	    !policy_identity_allowed(&c.policy, 3000))
		fail_msg("allow_identity 1000 / 3000: uid 1000 %d, uid 3000 %d",
		    policy_identity_allowed(&c.policy, 1000),
		    policy_identity_allowed(&c.policy, 3000));
	if (policy_identity_allowed(&c.policy, 0) ||
	    policy_identity_allowed(&c.policy, 2000))
		fail_msg("allow_identity 1000 3000 allowed uid 0 (%d) or uid "
		    "2000 (%d)", policy_identity_allowed(&c.policy, 0),
		    policy_identity_allowed(&c.policy, 2000));
	config_free(&c);

	config_init(&c);
	set(&c, "allow_identity", "");
	if (policy_identity_allowed(&c.policy, 0))
		fail_msg("an empty allow_identity allowed uid 0");
	config_free(&c);
}

/* A listed file, or a file directly in a listed directory. */
static void
test_path_listed(void **state)
{
	struct config	c;
	char		path[PATH_MAX + 64], dir[PATH_MAX + 2];

	config_init(&c);
	snprintf(dir, sizeof dir, "%s/", tmpdir);
	set(&c, "allow_exec_paths", dir);
	set(&c, "allow_exec_paths", "/");
	snprintf(path, sizeof path, "%s/prog", realdir);
	assert_true(policy_path_listed(&c.policy, path));
	snprintf(path, sizeof path, "%s/sub/prog", realdir);
	if (policy_path_listed(&c.policy, path))
		fail_msg("%s listed: subdirectories must not count", path);
	snprintf(path, sizeof path, "%s", realdir);
	if (policy_path_listed(&c.policy, path))
		fail_msg("the directory %s itself listed", path);
	snprintf(path, sizeof path, "%s/", realdir);
	if (policy_path_listed(&c.policy, path))
		fail_msg("%s (empty name) listed", path);
	snprintf(path, sizeof path, "%sX/prog", realdir);
	if (policy_path_listed(&c.policy, path))
		fail_msg("%s listed: a directory prefix is not a directory",
		    path);
	if (!policy_path_listed(&c.policy, "/vmlinuz"))
		fail_msg("/vmlinuz not listed by /");
	if (policy_path_listed(&c.policy, "/usr/bin/true") &&
	    strcmp(realdir, "/usr/bin") != 0)
		fail_msg("/usr/bin/true listed by / and the temp dir");
	config_free(&c);
}

/* Write an executable script at tmpdir/name. */
static void
make_prog(const char *name)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	chmod(path, 0755);
}

/* What forkd decides for an exec target: policy_exec_check() in the loop,
 * then with allow_exec_paths policy_exec_open() as the child runs it.
 * *exec is the path that runs (the resolved one with a list); err gets
 * the refusal message. */
static int
exec_check(const struct config *c, const char *path, char *buf,
    const char **exec, char *err, size_t errlen)
{
	char	esc[256];
	int	r, fd = -1;

	if ((r = policy_exec_check(&c->policy, path, err, errlen)) != 0)
		return r;
	if (!c->policy.exec_paths_set) {
		*exec = path;
		return 0;
	}
	r = policy_exec_open(&c->policy, path, buf, &fd);
	if (r == -EPERM) {
		snprintf(esc, sizeof esc, "%s", path);
		policy_exec_refusal(esc, err, errlen);
	} else if (r != 0)
		snprintf(err, errlen, "exec %s: %s", path, strerror(-r));
	else {
		if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
			fail_msg("policy_exec_open: fd %d not O_CLOEXEC", fd);
		close(fd);
		*exec = buf;
	}
	return r;
}

/* allow_exec and allow_exec_paths: resolution, escapes, error codes. */
static void
test_exec_check(void **state)
{
	struct config	 c;
	char		 buf[PATH_MAX], err[512], path[PATH_MAX + 64];
	char		 want[PATH_MAX + 64], dir[PATH_MAX + 2];
	const char	*exec = NULL;

	make_prog("prog");
	snprintf(path, sizeof path, "%s/sub", tmpdir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/escape", tmpdir);
	unlink(path);
	if (symlink("/bin/sh", path) != 0)
		fail_msg("symlink %s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "%s/sub/inner", tmpdir);
	unlink(path);
	if (symlink("../prog", path) != 0)
		fail_msg("symlink %s: %s", path, strerror(errno));

	/* Default: any path, run as given. */
	config_init(&c);
	EXPECT_RC(exec_check(&c, "/no/such/x", buf, &exec, err,
	    sizeof err), 0, "default policy, missing path");
	if (exec == NULL || strcmp(exec, "/no/such/x") != 0)
		fail_msg("default policy: exec path \"%s\", expected the "
		    "request's own", exec ? exec : "(null)");

	/* allow_exec = no refuses every path. */
	set(&c, "allow_exec", "no");
	err[0] = '\0';
	EXPECT_RC(exec_check(&c, "/bin/true", buf, &exec, err,
	    sizeof err), -EPERM, "allow_exec = no, /bin/true");
	EXPECT_MSG(err, "allow_exec", "allow_exec = no");
	config_free(&c);

	/* A directory: what resolves directly inside it, and nothing else. */
	config_init(&c);
	snprintf(dir, sizeof dir, "%s/", tmpdir);
	set(&c, "allow_exec_paths", dir);
	snprintf(want, sizeof want, "%s/prog", realdir);
	snprintf(path, sizeof path, "%s/prog", tmpdir);
	EXPECT_RC(exec_check(&c, path, buf, &exec, err,
	    sizeof err), 0, "a program in the allowed directory");
	if (strcmp(exec, want) != 0)
		fail_msg("exec path \"%s\", expected the resolved \"%s\"",
		    exec, want);
	/* In a subdirectory, but a symlink back into the directory: what
	 * counts is where it resolves to. */
	snprintf(path, sizeof path, "%s/sub/inner", tmpdir);
	EXPECT_RC(exec_check(&c, path, buf, &exec, err,
	    sizeof err), 0, "sub/inner -> ../prog");
	if (strcmp(exec, want) != 0)
		fail_msg("exec path \"%s\", expected \"%s\"", exec, want);
	/* A symlink in the directory pointing outside. */
	snprintf(path, sizeof path, "%s/escape", tmpdir);
	err[0] = '\0';
	EXPECT_RC(exec_check(&c, path, buf, &exec, err,
	    sizeof err), -EPERM, "symlink escape to /bin/sh");
	EXPECT_MSG(err, "allow_exec_paths", "symlink escape");
	/* ../ out of the directory. */
	snprintf(path, sizeof path, "%s/../../bin/sh", tmpdir);
	EXPECT_RC(exec_check(&c, path, buf, &exec, err,
	    sizeof err), -EPERM, "../ escape");
	/* Issue 13 item 6: no error tells what exists outside. A dangling
	 * symlink in the directory and one to an existing file outside give
	 * the same refusal; so do ../ through a directory that exists and
	 * one that does not. */
	{
		char	e1[512], e2[512], p1[PATH_MAX + 64], p2[PATH_MAX + 64];

		snprintf(p1, sizeof p1, "%s/dangling", tmpdir);
		unlink(p1);
		if (symlink("/no/such/dir/x", p1) != 0)
			fail_msg("symlink %s: %s", p1, strerror(errno));
		EXPECT_RC(exec_check(&c, p1, buf, &exec, e1, sizeof e1),
		    -EPERM, "symlink to a missing file outside");
		EXPECT_RC(exec_check(&c, path, buf, &exec, e2, sizeof e2),
		    -EPERM, "symlink to an existing file outside");
		EXPECT_MSG(e1, "is not in policy allow_exec_paths", "dangling");
		EXPECT_MSG(e2, "is not in policy allow_exec_paths", "escape");
		unlink(p1);
		snprintf(p1, sizeof p1, "%s/../%s/prog", tmpdir,
		    strrchr(tmpdir, '/') + 1);
		snprintf(p2, sizeof p2, "%s/../no-such-dir/../%s/prog", tmpdir,
		    strrchr(tmpdir, '/') + 1);
		EXPECT_RC(exec_check(&c, p1, buf, &exec, e1, sizeof e1),
		    -EPERM, "../ through an existing directory");
		EXPECT_RC(exec_check(&c, p2, buf, &exec, e2, sizeof e2),
		    -EPERM, "../ through a missing directory");
		EXPECT_MSG(e1, "is not in policy allow_exec_paths", "../ exists");
		EXPECT_MSG(e2, "is not in policy allow_exec_paths", "../ missing");
	}
	/* A missing program inside the directory: its own error. */
	snprintf(path, sizeof path, "%s/missing", tmpdir);
	err[0] = '\0';
	EXPECT_RC(exec_check(&c, path, buf, &exec, err,
	    sizeof err), -ENOENT, "missing program in the directory");
	EXPECT_MSG(err, "No such file", "missing program in the directory");
	/* A missing path elsewhere: EPERM, existence is not revealed. */
	EXPECT_RC(exec_check(&c, "/no/such/x", buf, &exec, err,
	    sizeof err), -EPERM, "missing path outside the directory");
	EXPECT_RC(exec_check(&c, "/bin/true", buf, &exec, err,
	    sizeof err), -EPERM, "/bin/true outside the directory");
	config_free(&c);

	/* A file entry: that file, under any name that resolves to it. */
	config_init(&c);
	set(&c, "allow_exec_paths", "/bin/true");
	EXPECT_RC(exec_check(&c, "/bin/true", buf, &exec, err,
	    sizeof err), 0, "/bin/true allowed by name");
	/* ".." and "." are refused as written, before any lookup: their
	 * resolution would tell which directories exist (issue 13 item 6). */
	EXPECT_RC(exec_check(&c, "/bin/../bin/true", buf, &exec,
	    err, sizeof err), -EPERM, "/bin/../bin/true");
	EXPECT_MSG(err, "allow_exec_paths", "/bin/../bin/true");
	EXPECT_RC(exec_check(&c, "/bin/./true", buf, &exec,
	    err, sizeof err), -EPERM, "/bin/./true");
	EXPECT_RC(exec_check(&c, "/bin/sh", buf, &exec, err,
	    sizeof err), -EPERM, "/bin/sh with only /bin/true allowed");
	config_free(&c);
}

/* allow_env and the unsafe names: which names pass, and the message. */
static void
test_env(void **state)
{
	static const char *const unsafe[] = { "LD_PRELOAD", "LD_AUDIT",
	    "LD_LIBRARY_PATH", "LD_ANYTHING", "GCONV_PATH", "GLIBC_TUNABLES",
	    "BASH_ENV", "ENV", "BASH_FUNC_ls%%", "PATH", "HOME", "PYTHONPATH",
	    "PYTHONSTARTUP", "PYTHONHOME", "PYTHONUSERBASE", "PERL5OPT",
	    "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS",
	    "TMPDIR", "OPENSSL_CONF", NULL };
	static const char *const safe[] = { "LANG", "LC_ALL", "TZ", "FOO",
	    "MY_LD_PRELOAD", "PATHX", "ENVIRONMENT", NULL };
	struct config	 c;
	char		 err[512], e[64];
	char		*env[2] = { e, NULL };

	for (int i = 0; unsafe[i] != NULL; i++)
		if (!policy_env_unsafe(unsafe[i], strlen(unsafe[i])))
			fail_msg("%s is not unsafe", unsafe[i]);
	for (int i = 0; safe[i] != NULL; i++)
		if (policy_env_unsafe(safe[i], strlen(safe[i])))
			fail_msg("%s is unsafe", safe[i]);

	/* No restriction: anything goes. */
	config_init(&c);
	snprintf(e, sizeof e, "LD_PRELOAD=/x.so");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err), 0,
	    "LD_PRELOAD, unrestricted policy");
	/* allow_exec_paths restricts: unsafe names refused, others pass. */
	set(&c, "allow_exec_paths", "/bin/true");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err),
	    -EPERM, "LD_PRELOAD under allow_exec_paths");
	EXPECT_MSG(err, "env[0]: variable LD_PRELOAD may change", "refusal");
	snprintf(e, sizeof e, "FOO=1");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err), 0,
	    "FOO under allow_exec_paths");
	/* allow_env: patterns; an unsafe name needs an exact entry. */
	set(&c, "allow_env", "F* LD_LIBRARY_PATH, PYTHON*");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err), 0,
	    "FOO with allow_env F*");
	snprintf(e, sizeof e, "BAR=1");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err),
	    -EPERM, "BAR with allow_env F*");
	EXPECT_MSG(err, "variable BAR is not in policy allow_env", "refusal");
	snprintf(e, sizeof e, "LD_LIBRARY_PATH=/x");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err), 0,
	    "LD_LIBRARY_PATH named in allow_env");
	snprintf(e, sizeof e, "PYTHONPATH=/x");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err),
	    -EPERM, "PYTHONPATH through the pattern PYTHON*");
	/* A name with a control byte is escaped in the message. */
	snprintf(e, sizeof e, "B\nAR=1");
	EXPECT_RC(policy_env_check(&c.policy, env, 1, err, sizeof err),
	    -EPERM, "a name with a newline");
	EXPECT_MSG(err, "B\\x0aAR", "escaped name");
	/* allow_env entries are names: '=' is refused. */
	if (config_set(&c, "policy", "allow_env", "A=B", err, sizeof err) == 0)
		fail_msg("allow_env = A=B accepted");
	config_free(&c);
}

/* policy_allowed_by(): the rule the audit line names. */
static void
test_allowed_by(void **state)
{
	struct config	c;
	char		buf[320];

	(void)state;
	config_init(&c);
	policy_allowed_by(&c.policy, "pi:leibniz", NULL, buf, sizeof buf);
	assert_string_equal(buf, "allow_targets unset");
	policy_allowed_by(&c.policy, "/bin/true", "/bin/true", buf,
	    sizeof buf);
	assert_string_equal(buf, "allow_exec = yes, allow_exec_paths unset");
	set(&c, "allow_targets", "bench:* pi:*");
	set(&c, "allow_exec_paths", "/usr/bin/");
	policy_allowed_by(&c.policy, "pi:leibniz", NULL, buf, sizeof buf);
	assert_string_equal(buf, "allow_targets pi:*");
	policy_allowed_by(&c.policy, "/usr/bin/env", "/usr/bin/env", buf,
	    sizeof buf);
	assert_string_equal(buf, "allow_exec_paths /usr/bin/");
	policy_allowed_by(&c.policy, "/usr/bin/../bin/true",
	    "/usr/bin/../bin/true", buf, sizeof buf);
	assert_string_equal(buf, "allow_exec_paths (as resolved by the "
	    "child)");
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_targets_and_uids),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_path_listed),
		cmocka_unit_test(test_exec_check),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_allowed_by),
	};

	return cmocka_run_group_tests_name("policy", tests, setup, teardown);
}
