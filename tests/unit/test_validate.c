/* test_validate.c: validate_spawn() (daemon/validate.c), table-driven: a
 * valid request passes, and each row breaks it in one way and expects the
 * errno, refusal flag and message spawn_request() has always replied. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "validate.h"

#define CLIENT_UID	1000

/* A request with room for every field a row sets. */
struct req {
	Forkd__SpawnRequest	 r;
	char			*argv[4];
	char			*env[4];
	uint32_t		 fd_targets[4];
	Forkd__Rlimit		 rl[3], *rlp[3];
	Forkd__UInt32Value	 umask;
	Forkd__Int32Value	 nice;
	uint32_t		 cpus[2];
	Forkd__Identity		 id;
	uint32_t		 groups[2];
	Forkd__CgroupSpec	 cg;
	size_t			 nfds;
	int			 root;
	uid_t			 uid;	/* the client's */
	char			 big[LIMIT_STRING_MAX + 2];
};

/* The valid request every row starts from: a module entry with one
 * argument, one variable, a cwd and one fd to child fd 3. */
static void
req_init(struct req *q)
{
	memset(q, 0, sizeof *q);
	forkd__spawn_request__init(&q->r);
	q->r.target = "mod:entry";
	q->argv[0] = "entry";
	q->r.argv = q->argv;
	q->r.n_argv = 1;
	q->env[0] = "K=V";
	q->r.env = q->env;
	q->r.n_env = 1;
	q->r.cwd = "/";
	q->fd_targets[0] = 3;
	q->r.fd_targets = q->fd_targets;
	q->r.n_fd_targets = 1;
	q->nfds = 1;
	q->root = 1;
	q->uid = CLIENT_UID;
	for (size_t i = 0; i < 3; i++) {
		forkd__rlimit__init(&q->rl[i]);
		q->rlp[i] = &q->rl[i];
	}
	forkd__uint32_value__init(&q->umask);
	forkd__int32_value__init(&q->nice);
	forkd__identity__init(&q->id);
	q->id.uid = 1;
	q->id.gid = 1;
	q->id.groups = q->groups;
	forkd__cgroup_spec__init(&q->cg);
	memset(q->big, 'x', sizeof q->big - 1);
	q->big[0] = '/';
	q->big[sizeof q->big - 1] = '\0';
}

/* One way to break the request. */
struct row {
	const char	*what;
	void		(*breaks)(struct req *);
	int		 err;
	int		 refusal;
	const char	*msg;		/* expected in the message */
};

static void no_target(struct req *q) { q->r.target = NULL; }
static void empty_target(struct req *q) { q->r.target = ""; }
static void long_target(struct req *q) { q->r.target = q->big; }
static void many_argv(struct req *q) { q->r.n_argv = 3; q->argv[1] = q->argv[2] = "a"; }
static void many_env(struct req *q) { q->r.n_env = 3; q->env[1] = q->env[2] = "A=B"; }
static void long_argv(struct req *q) { q->argv[0] = q->big; }
static void long_env(struct req *q) { q->big[1] = '='; q->env[0] = q->big; }
static void env_no_eq(struct req *q) { q->env[0] = "KV"; }
static void env_no_key(struct req *q) { q->env[0] = "=V"; }
static void cwd_relative(struct req *q) { q->r.cwd = "tmp"; }
static void long_cwd(struct req *q) { q->r.cwd = q->big; }
static void many_fds(struct req *q) { q->nfds = 3; q->r.n_fd_targets = 3; q->fd_targets[1] = 4; q->fd_targets[2] = 5; }
static void fds_targets_differ(struct req *q) { q->r.n_fd_targets = 0; }
static void bad_target_form(struct req *q) { q->r.target = "entry\n"; }
static void many_rlimits(struct req *q) { q->r.n_rlimits = 17; q->r.rlimits = q->rlp; }
static void rlimit_resource(struct req *q) { q->rl[0].resource = 16; q->r.n_rlimits = 1; q->r.rlimits = q->rlp; }
static void rlimit_twice(struct req *q) { q->rl[0].resource = q->rl[1].resource = 7; q->rl[0].soft = q->rl[1].soft = 1; q->rl[0].hard = q->rl[1].hard = 2; q->r.n_rlimits = 2; q->r.rlimits = q->rlp; }
static void rlimit_soft_hard(struct req *q) { q->rl[0].resource = 7; q->rl[0].soft = 3; q->rl[0].hard = 2; q->r.n_rlimits = 1; q->r.rlimits = q->rlp; }
static void bad_umask(struct req *q) { q->umask.value = 01000; q->r.umask = &q->umask; }
static void nice_low(struct req *q) { q->nice.value = -21; q->r.nice = &q->nice; }
static void nice_high(struct req *q) { q->nice.value = 20; q->r.nice = &q->nice; }
static void many_cpus(struct req *q) { q->r.n_cpus = LIMIT_CPUS_MAX + 1; q->r.cpus = q->cpus; }
static void big_cpu(struct req *q) { q->cpus[0] = CPU_SETSIZE; q->r.n_cpus = 1; q->r.cpus = q->cpus; }
static void bad_pgroup(struct req *q) { q->r.pgroup = 2; }
static void bad_ns(struct req *q) { q->r.namespaces = 64 | FORKD__NAMESPACE__NS_PID; }
static void id_not_root(struct req *q) { q->r.identity = &q->id; q->root = 0; }
static void id_policy(struct req *q) { q->r.identity = &q->id; q->uid = CLIENT_UID + 1; }
static void id_groups(struct req *q) { q->r.identity = &q->id; q->id.n_groups = LIMIT_GROUPS_MAX + 1; }
static void id_uid(struct req *q) { q->r.identity = &q->id; q->id.uid = UINT32_MAX; }
static void id_gid(struct req *q) { q->r.identity = &q->id; q->id.gid = UINT32_MAX; }
static void id_group(struct req *q) { q->r.identity = &q->id; q->groups[0] = UINT32_MAX; q->id.n_groups = 1; }
static void fd_target_big(struct req *q) { q->fd_targets[0] = LIMIT_FD_TARGET_MAX + 1; }
static void fd_target_twice(struct req *q) { q->nfds = 2; q->r.n_fd_targets = 2; q->fd_targets[1] = 3; }
static void long_timeout(struct req *q) { q->r.timeout_ms = LIMIT_TIMEOUT_MS_MAX + 1; }
static void long_grace(struct req *q) { q->r.kill_grace_ms = LIMIT_KILL_GRACE_MS_MAX + 1; }
static void period_low(struct req *q) { q->cg.cpu_period_us = 999; q->cg.cpu_quota_us = 5000; q->r.cgroup = &q->cg; }
static void period_high(struct req *q) { q->cg.cpu_period_us = 1000001; q->cg.cpu_quota_us = 5000; q->r.cgroup = &q->cg; }
static void quota_low(struct req *q) { q->cg.cpu_quota_us = 999; q->r.cgroup = &q->cg; }
static void period_alone(struct req *q) { q->cg.cpu_period_us = 100000; q->r.cgroup = &q->cg; }

static const struct row rows[] = {
	{ "no target", no_target, -EINVAL, 0, "no target given" },
	{ "empty target", empty_target, -EINVAL, 0, "no target given" },
	{ "long target", long_target, -ENAMETOOLONG, 0, "target longer than 4096 bytes" },
	{ "argv count", many_argv, -E2BIG, 0, "3 argv entries, limit 2" },
	{ "env count", many_env, -E2BIG, 0, "3 env entries, limit 2" },
	{ "long argv", long_argv, -E2BIG, 0, "argv[0] longer than 4096 bytes" },
	{ "long env", long_env, -E2BIG, 0, "env[0] longer than 4096 bytes" },
	{ "env without =", env_no_eq, -EINVAL, 0, "env[0] is not KEY=VALUE" },
	{ "env without key", env_no_key, -EINVAL, 0, "env[0] is not KEY=VALUE" },
	{ "relative cwd", cwd_relative, -EINVAL, 0, "cwd must be an absolute path" },
	{ "long cwd", long_cwd, -ENAMETOOLONG, 0, "cwd longer than 4096 bytes" },
	{ "fd count", many_fds, -EMFILE, 0, "3 fds passed, limit 2" },
	{ "fds vs targets", fds_targets_differ, -EINVAL, 0, "1 fds passed but 0 fd targets given" },
	{ "target form", bad_target_form, -EINVAL, 0, "target 'entry\\x0a' is neither MODULE:ENTRY nor an absolute path" },
	{ "rlimit count", many_rlimits, -E2BIG, 0, "17 rlimits, at most 16" },
	{ "rlimit resource", rlimit_resource, -EINVAL, 0, "rlimits[0]: resource 16 is not an RLIMIT_* number (0..15)" },
	{ "rlimit twice", rlimit_twice, -EINVAL, 0, "rlimits[1]: resource 7 given twice" },
	{ "rlimit soft > hard", rlimit_soft_hard, -EINVAL, 0, "rlimits[0]: soft limit 3 above hard limit 2" },
	{ "umask", bad_umask, -EINVAL, 0, "umask 01000 is not a file mode mask (0..0777)" },
	{ "nice low", nice_low, -EINVAL, 0, "nice -21 out of range (-20..19)" },
	{ "nice high", nice_high, -EINVAL, 0, "nice 20 out of range (-20..19)" },
	{ "cpu count", many_cpus, -E2BIG, 0, "1025 cpus, at most 1024" },
	{ "cpu number", big_cpu, -EINVAL, 0, "cpu 1024 above 1023" },
	{ "pgroup", bad_pgroup, -EINVAL, 0, "unknown pgroup 2" },
	{ "namespaces", bad_ns, -EINVAL, 0, "unknown namespace bits 0x40" },
	{ "identity, not root", id_not_root, -EPERM, 1, "identity changes need forkd to run as root" },
	{ "identity, policy", id_policy, -EPERM, 1, "uid 1001 may not ask for an identity (policy allow_identity)" },
	{ "identity groups", id_groups, -E2BIG, 0, "identity: 65 groups, at most 64" },
	{ "identity uid", id_uid, -EINVAL, 0, "identity: uid and gid must be below 4294967295" },
	{ "identity gid", id_gid, -EINVAL, 0, "identity: uid and gid must be below 4294967295" },
	{ "identity group", id_group, -EINVAL, 0, "identity: group 4294967295 is not a gid" },
	{ "fd target range", fd_target_big, -EBADF, 0, "fd target 64 above 63" },
	{ "fd target twice", fd_target_twice, -EINVAL, 0, "fd target 3 given twice" },
	{ "timeout", long_timeout, -EINVAL, 0, "timeout_ms 604800001 above the limit 604800000" },
	{ "kill grace", long_grace, -EINVAL, 0, "kill_grace_ms 600001 above the limit 600000" },
	{ "cpu period low", period_low, -EINVAL, 0, "cpu_period_us 999 outside 1000..1000000" },
	{ "cpu period high", period_high, -EINVAL, 0, "cpu_period_us 1000001 outside 1000..1000000" },
	{ "cpu quota low", quota_low, -EINVAL, 0, "cpu_quota_us 999 below 1000" },
	{ "period alone", period_alone, -EINVAL, 0, "cpu_period_us without cpu_quota_us" },
};

static struct config_limits	limits;
static uid_t			allowed_uid = CLIENT_UID;
static struct config_policy	policy;

/* Validate q as its client uid. */
static int
run(struct req *q, char *msg, size_t msglen, int *ret_refusal)
{
	struct validate_ctx ctx = {
		.vc_limits = &limits, .vc_policy = &policy,
		.vc_uid = q->uid, .vc_root = q->root, .vc_nfds = q->nfds,
	};

	return validate_spawn(&q->r, &ctx, msg, msglen, ret_refusal);
}

static int
setup(void **state)
{
	(void)state;
	memset(&limits, 0, sizeof limits);
	limits.max_argv = 2;
	limits.max_env = 2;
	limits.max_fds = 2;
	memset(&policy, 0, sizeof policy);
	policy.identity_uids = &allowed_uid;
	policy.n_identity_uids = 1;
	return 0;
}

/* The base request and its variants within the limits pass. */
static void
test_valid(void **state)
{
	struct req	q;
	char		msg[512] = "";
	int		refusal = -1;

	(void)state;
	req_init(&q);
	assert_int_equal(run(&q, msg, sizeof msg, &refusal), 0);
	assert_int_equal(refusal, 0);
	/* An exec target, every option at its bound, an allowed identity. */
	req_init(&q);
	q.r.target = "/bin/true";
	q.r.cwd = NULL;
	q.umask.value = 0777;
	q.r.umask = &q.umask;
	q.nice.value = -20;
	q.r.nice = &q.nice;
	q.cpus[0] = CPU_SETSIZE - 1;
	q.r.cpus = q.cpus;
	q.r.n_cpus = 1;
	q.r.pgroup = FORKD__PROCESS_GROUP__PGROUP_GROUP;
	q.r.namespaces = LIMIT_NS_ALL;
	q.fd_targets[0] = LIMIT_FD_TARGET_MAX;
	q.r.timeout_ms = LIMIT_TIMEOUT_MS_MAX;
	q.r.kill_grace_ms = LIMIT_KILL_GRACE_MS_MAX;
	q.cg.cpu_period_us = 1000;
	q.cg.cpu_quota_us = 1000;
	q.r.cgroup = &q.cg;
	q.rl[0].resource = 15;
	q.rl[0].soft = q.rl[0].hard = 5;
	q.r.rlimits = q.rlp;
	q.r.n_rlimits = 1;
	q.r.identity = &q.id;
	assert_int_equal(run(&q, msg, sizeof msg, &refusal), 0);
}

/* Every row: its errno, refusal flag and message. */
static void
test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct req	q;
		char		msg[512] = "";
		int		refusal = -1, err;

		req_init(&q);
		rows[i].breaks(&q);
		err = run(&q, msg, sizeof msg, &refusal);
		if (err != rows[i].err || refusal != rows[i].refusal ||
		    strcmp(msg, rows[i].msg) != 0)
			fail_msg("%s: got %d refusal %d \"%s\", expected %d "
			    "refusal %d \"%s\"", rows[i].what, err, refusal,
			    msg, rows[i].err, rows[i].refusal, rows[i].msg);
	}
}

/* A message longer than the buffer is cut, never overrun. */
static void
test_short_buffer(void **state)
{
	struct req	q;
	char		msg[8];
	int		refusal;

	(void)state;
	req_init(&q);
	no_target(&q);
	assert_int_equal(run(&q, msg, sizeof msg, &refusal), -EINVAL);
	assert_string_equal(msg, "no targ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid, setup),
		cmocka_unit_test_setup(test_rows, setup),
		cmocka_unit_test_setup(test_short_buffer, setup),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
