/* validate.c: the checks of a SpawnRequest that depend on nothing but the
 * request, the configuration and who asks (see validate.h). */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "config.h"
#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "log.h"
#include "policy.h"
#include "validate.h"

_Static_assert(LIMIT_NS_ALL == (FORKD__NAMESPACE__NS_PID |
    FORKD__NAMESPACE__NS_MOUNT | FORKD__NAMESPACE__NS_NET |
    FORKD__NAMESPACE__NS_IPC | FORKD__NAMESPACE__NS_UTS |
    FORKD__NAMESPACE__NS_USER), "LIMIT_NS_ALL is every Namespace of forkd.proto");
_Static_assert(LIMIT_CPU_NUMBER_MAX == CPU_SETSIZE,
    "the child's affinity is a cpu_set_t");

/* Is env entry "K=V" well formed? */
static int
validate_env_entry(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL && eq != s;
}

/* Each of the n strings of v (argv or env: what) at most LIMIT_STRING_MAX
 * bytes and, with kv, KEY=VALUE; the first fault found is the reply. */
static int
validate_strv(char *const *v, size_t n, const char *what, int kv, char *msg,
    size_t msglen)
{
	for (size_t i = 0; i < n; i++) {
		if (strlen(v[i]) > LIMIT_STRING_MAX) {
			snprintf(msg, msglen, "%s[%zu] longer than %d bytes",
			    what, i, LIMIT_STRING_MAX);
			return -E2BIG;
		}
		if (kv && !validate_env_entry(v[i])) {
			snprintf(msg, msglen, "%s[%zu] is not KEY=VALUE", what,
			    i);
			return -EINVAL;
		}
	}
	return 0;
}

/* Sizes and shapes of the strings and counts. */
static int
validate_strings(const Forkd__SpawnRequest *r, const struct validate_ctx *ctx,
    char *msg, size_t msglen)
{
	const struct config_limits *lim = ctx->vc_limits;
	char esc[128];
	int err;

	if (r->target == NULL || r->target[0] == '\0') {
		snprintf(msg, msglen, "no target given");
		return -EINVAL;
	}
	if (strlen(r->target) > LIMIT_STRING_MAX) {
		snprintf(msg, msglen, "target longer than %d bytes",
		    LIMIT_STRING_MAX);
		return -ENAMETOOLONG;
	}
	if (r->n_argv > lim->max_argv) {
		snprintf(msg, msglen, "%zu argv entries, limit %u", r->n_argv,
		    lim->max_argv);
		return -E2BIG;
	}
	if (r->n_env > lim->max_env) {
		snprintf(msg, msglen, "%zu env entries, limit %u", r->n_env,
		    lim->max_env);
		return -E2BIG;
	}
	if ((err = validate_strv(r->argv, r->n_argv, "argv", 0, msg,
	    msglen)) != 0 ||
	    (err = validate_strv(r->env, r->n_env, "env", 1, msg, msglen)) != 0)
		return err;
	if (r->cwd != NULL && r->cwd[0] != '\0') {
		if (r->cwd[0] != '/') {
			snprintf(msg, msglen, "cwd must be an absolute path");
			return -EINVAL;
		}
		if (strlen(r->cwd) > LIMIT_STRING_MAX) {
			snprintf(msg, msglen, "cwd longer than %d bytes",
			    LIMIT_STRING_MAX);
			return -ENAMETOOLONG;
		}
	}
	if (ctx->vc_nfds > lim->max_fds) {
		snprintf(msg, msglen, "%zu fds passed, limit %u", ctx->vc_nfds,
		    lim->max_fds);
		return -EMFILE;
	}
	if (r->n_fd_targets != ctx->vc_nfds) {
		snprintf(msg, msglen, "%zu fds passed but %zu fd targets given",
		    ctx->vc_nfds, r->n_fd_targets);
		return -EINVAL;
	}
	if (r->target[0] != '/' && strchr(r->target, ':') == NULL) {
		snprintf(msg, msglen, "target '%s' is neither MODULE:ENTRY nor "
		    "an absolute path", log_escape(esc, sizeof esc, r->target,
		    strlen(r->target)));
		return -EINVAL;
	}
	return 0;
}

/* Resource limits: known resources, each once, soft <= hard. */
static int
validate_rlimits(const Forkd__SpawnRequest *r, char *msg, size_t msglen)
{
	unsigned int seen = 0;

	if (r->n_rlimits > CHILD_RLIMIT_MAX) {
		snprintf(msg, msglen, "%zu rlimits, at most %d", r->n_rlimits,
		    CHILD_RLIMIT_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < r->n_rlimits; i++) {
		const Forkd__Rlimit *rl = r->rlimits[i];

		if (rl == NULL || rl->resource >= CHILD_RLIMIT_MAX) {
			snprintf(msg, msglen, "rlimits[%zu]: resource %u is "
			    "not an RLIMIT_* number (0..%d)", i,
			    rl != NULL ? rl->resource : 0U, CHILD_RLIMIT_MAX - 1);
			return -EINVAL;
		}
		if (seen & (1U << rl->resource)) {
			snprintf(msg, msglen, "rlimits[%zu]: resource %u "
			    "given twice", i, rl->resource);
			return -EINVAL;
		}
		seen |= 1U << rl->resource;
		if (rl->soft > rl->hard) {
			snprintf(msg, msglen, "rlimits[%zu]: soft limit %llu "
			    "above hard limit %llu", i,
			    (unsigned long long)rl->soft,
			    (unsigned long long)rl->hard);
			return -EINVAL;
		}
	}
	return 0;
}

/* umask, nice, CPU affinity, process group and namespaces. */
static int
validate_setup(const Forkd__SpawnRequest *r, char *msg, size_t msglen)
{
	if (r->umask != NULL && r->umask->value > 0777) {
		snprintf(msg, msglen, "umask %#o is not a file mode mask "
		    "(0..0777)", r->umask->value);
		return -EINVAL;
	}
	if (r->nice != NULL && (r->nice->value < -20 || r->nice->value > 19)) {
		snprintf(msg, msglen, "nice %d out of range (-20..19)",
		    (int)r->nice->value);
		return -EINVAL;
	}
	if (r->n_cpus > LIMIT_CPUS_MAX) {
		snprintf(msg, msglen, "%zu cpus, at most %d", r->n_cpus,
		    LIMIT_CPUS_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < r->n_cpus; i++)
		if (r->cpus[i] >= LIMIT_CPU_NUMBER_MAX) {
			snprintf(msg, msglen, "cpu %u above %d", r->cpus[i],
			    LIMIT_CPU_NUMBER_MAX - 1);
			return -EINVAL;
		}
	if (r->pgroup != FORKD__PROCESS_GROUP__PGROUP_SESSION &&
	    r->pgroup != FORKD__PROCESS_GROUP__PGROUP_GROUP) {
		snprintf(msg, msglen, "unknown pgroup %d", (int)r->pgroup);
		return -EINVAL;
	}
	if ((r->namespaces & ~(uint32_t)LIMIT_NS_ALL) != 0) {
		snprintf(msg, msglen, "unknown namespace bits %#x",
		    r->namespaces & ~(uint32_t)LIMIT_NS_ALL);
		return -EINVAL;
	}
	return 0;
}

/* Another identity: forkd must be root and the policy allow it (-EPERM,
 * a refusal); then the ids themselves. */
static int
validate_identity(const Forkd__SpawnRequest *r, const struct validate_ctx *ctx,
    char *msg, size_t msglen, int *ret_refusal)
{
	const Forkd__Identity *id = r->identity;

	if (id == NULL)
		return 0;
	if (!ctx->vc_root) {
		snprintf(msg, msglen, "identity changes need forkd to run as "
		    "root");
		*ret_refusal = 1;
		return -EPERM;
	}
	if (!policy_identity_allowed(ctx->vc_policy, ctx->vc_uid)) {
		snprintf(msg, msglen, "uid %u may not ask for an identity "
		    "(policy allow_identity)", (unsigned)ctx->vc_uid);
		*ret_refusal = 1;
		return -EPERM;
	}
	if (id->n_groups > CHILD_GROUPS_MAX) {
		snprintf(msg, msglen, "identity: %zu groups, at most %d",
		    id->n_groups, CHILD_GROUPS_MAX);
		return -E2BIG;
	}
	/* (uid_t)-1 means "unchanged" to setresuid(): not a uid. */
	if (id->uid == UINT32_MAX || id->gid == UINT32_MAX) {
		snprintf(msg, msglen, "identity: uid and gid must be below %u",
		    UINT32_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < id->n_groups; i++)
		if (id->groups[i] == UINT32_MAX) {
			snprintf(msg, msglen, "identity: group %u is not a gid",
			    id->groups[i]);
			return -EINVAL;
		}
	return 0;
}

/* Child fd numbers: in range, each once. */
static int
validate_fd_targets(const Forkd__SpawnRequest *r, char *msg, size_t msglen)
{
	for (size_t i = 0; i < r->n_fd_targets; i++) {
		uint32_t t = r->fd_targets[i];

		if (t > LIMIT_FD_TARGET_MAX) {
			snprintf(msg, msglen, "fd target %u above %d", t,
			    LIMIT_FD_TARGET_MAX);
			return -EBADF;
		}
		for (size_t j = 0; j < i; j++)
			if (r->fd_targets[j] == t) {
				snprintf(msg, msglen, "fd target %u given twice",
				    t);
				return -EINVAL;
			}
	}
	return 0;
}

/* Life options: timeout, kill grace, cgroup CPU bounds. */
static int
validate_life(const Forkd__SpawnRequest *r, char *msg, size_t msglen)
{
	const Forkd__CgroupSpec *cs = r->cgroup;

	if (r->timeout_ms > LIMIT_TIMEOUT_MS_MAX) {
		snprintf(msg, msglen, "timeout_ms %u above the limit %u",
		    r->timeout_ms, (unsigned)LIMIT_TIMEOUT_MS_MAX);
		return -EINVAL;
	}
	if (r->kill_grace_ms > LIMIT_KILL_GRACE_MS_MAX) {
		snprintf(msg, msglen, "kill_grace_ms %u above the limit %u",
		    r->kill_grace_ms, LIMIT_KILL_GRACE_MS_MAX);
		return -EINVAL;
	}
	if (cs == NULL)
		return 0;
	if (cs->cpu_period_us != 0 &&
	    (cs->cpu_period_us < LIMIT_CPU_PERIOD_MIN ||
	    cs->cpu_period_us > LIMIT_CPU_PERIOD_MAX)) {
		snprintf(msg, msglen, "cpu_period_us %u outside %u..%u",
		    cs->cpu_period_us, LIMIT_CPU_PERIOD_MIN,
		    LIMIT_CPU_PERIOD_MAX);
		return -EINVAL;
	}
	if (cs->cpu_quota_us != 0 && cs->cpu_quota_us < LIMIT_CPU_QUOTA_MIN) {
		snprintf(msg, msglen, "cpu_quota_us %u below %u",
		    cs->cpu_quota_us, LIMIT_CPU_QUOTA_MIN);
		return -EINVAL;
	}
	if (cs->cpu_period_us != 0 && cs->cpu_quota_us == 0) {
		snprintf(msg, msglen, "cpu_period_us without cpu_quota_us");
		return -EINVAL;
	}
	return 0;
}

/* Every state-free check of a spawn request, in the order of the reply a
 * request with several faults gets. */
int
validate_spawn(const Forkd__SpawnRequest *r, const struct validate_ctx *ctx,
    char *msg, size_t msglen, int *ret_refusal)
{
	int err;

	*ret_refusal = 0;
	if ((err = validate_strings(r, ctx, msg, msglen)) != 0 ||
	    (err = validate_rlimits(r, msg, msglen)) != 0 ||
	    (err = validate_setup(r, msg, msglen)) != 0 ||
	    (err = validate_identity(r, ctx, msg, msglen, ret_refusal)) != 0 ||
	    (err = validate_fd_targets(r, msg, msglen)) != 0 ||
	    (err = validate_life(r, msg, msglen)) != 0)
		return err;
	return 0;
}
