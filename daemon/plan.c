/* plan.c: the child plan. Built from a request in forkd (plan_build(),
 * plan_free()), and flattened into one buffer for the pool hand-over (see
 * plan.h): plan_pack() runs in forkd, plan_unpack() in a pool child between
 * its wake-up and its target (no allocation, no stdio, no log there). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <linux/capability.h>

#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "plan.h"
#include "server.h"

#define PLAN_MAGIC	0x666b706cU	/* "fkpl" */

/* What travels: this header, then the argv and envp slot arrays (offsets,
 * 0-terminated), then the strings. In ph_plan every pointer but cp_entry
 * holds an offset from the start of the buffer (0: NULL) and every fd
 * taken from the message holds PLAN_FD_MSG(its index). */
struct plan_hdr {
	uint32_t		ph_magic;
	uint32_t		ph_len;		/* the whole message */
	struct child_plan	ph_plan;
};

#define PLAN_FD_MSG(i)		(-2 - (int)(i))
#define PLAN_FD_INDEX(v)	((size_t)(-2 - (v)))

struct plan_out {
	unsigned char	*po_buf;
	size_t		 po_cap;
	size_t		 po_len;
	int		 po_full;	/* something did not fit */
};

/* Reserve len bytes aligned to align; their offset, or 0 when full. */
static size_t
plan_reserve(struct plan_out *o, size_t len, size_t align)
{
	size_t off = (o->po_len + align - 1) & ~(align - 1);

	if (o->po_full || off > o->po_cap || len > o->po_cap - off) {
		o->po_full = 1;
		return 0;
	}
	o->po_len = off + len;
	return off;
}

/* Copy a string in; its offset (0 for NULL, or when full). */
static uintptr_t
plan_put_str(struct plan_out *o, const char *s)
{
	size_t	len, off;

	if (s == NULL)
		return 0;
	len = strlen(s) + 1;
	if ((off = plan_reserve(o, len, 1)) != 0)
		memcpy(o->po_buf + off, s, len);
	return off;
}

/* Copy n strings of v in, with a slot array of n + 1 offsets; the array's
 * offset (0 for a NULL v, or when full). */
static uintptr_t
plan_put_vec(struct plan_out *o, char *const *v, size_t n)
{
	size_t	 off;

	if (v == NULL)
		return 0;
	if ((off = plan_reserve(o, (n + 1) * sizeof(uintptr_t),
	    sizeof(uintptr_t))) == 0)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		uintptr_t s = i < n ? plan_put_str(o, v[i]) : 0;

		memcpy(o->po_buf + off + i * sizeof s, &s, sizeof s);
	}
	return off;
}

int
plan_pack(const struct child_plan *p, const int *fds, size_t nfds,
    int keep_fd, unsigned char *buf, size_t cap, size_t *ret_len)
{
	struct plan_out	 o = { buf, cap, sizeof(struct plan_hdr), 0 };
	struct plan_hdr	 h;
	struct child_plan *q = &h.ph_plan;
	size_t		 nenv = 0;

	/* A pool child's copy of allow_exec_paths may be older than forkd's
	 * (SIGHUP): such a plan is for forkd's own children only. */
	if (p->cp_cgroup_procs_fd >= 0 || p->cp_exec_policy != NULL ||
	    p->cp_argc < 1 ||
	    p->cp_argv == NULL || p->cp_nfds < 0 ||
	    p->cp_nfds > LIMIT_FD_TARGET_MAX + 1 ||
	    (uintptr_t)buf % _Alignof(struct plan_hdr) != 0)
		return -EINVAL;
	if (cap < sizeof h)
		return -EMSGSIZE;
	for (char **e = p->cp_envp; e != NULL && *e != NULL; e++)
		nenv++;

	memcpy(q, p, sizeof *q);
	q->cp_argv = (char **)plan_put_vec(&o, p->cp_argv,
	    (size_t)p->cp_argc);
	q->cp_envp = (char **)plan_put_vec(&o, p->cp_envp, nenv);
	q->cp_path = (const char *)plan_put_str(&o, p->cp_path);
	q->cp_cwd = (const char *)plan_put_str(&o, p->cp_cwd);
	q->cp_name = (const char *)plan_put_str(&o, p->cp_name);
	if (o.po_full)
		return -EMSGSIZE;
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++) {
		size_t i;

		if (q->cp_fds[t] < 0)
			continue;
		for (i = 0; i < nfds && fds[i] != q->cp_fds[t]; i++)
			;
		if (i < nfds)
			q->cp_fds[t] = PLAN_FD_MSG(i);
		else if (q->cp_fds[t] != keep_fd)
			return -EINVAL;	/* the pool child has no such fd */
	}
	q->cp_errfd = -1;
	q->cp_cgroup_procs_fd = -1;
	h.ph_magic = PLAN_MAGIC;
	h.ph_len = (uint32_t)o.po_len;
	memcpy(buf, &h, sizeof h);
	*ret_len = o.po_len;
	return 0;
}

/* Turn the offset in *sp into a pointer to a string inside buf. */
static int
plan_fix_str(unsigned char *buf, size_t n, const char **sp)
{
	uintptr_t off = (uintptr_t)*sp;

	if (off == 0) {
		*sp = NULL;
		return 0;
	}
	if (off < sizeof(struct plan_hdr) || off >= n ||
	    memchr(buf + off, '\0', n - off) == NULL)
		return -1;
	*sp = (const char *)buf + off;
	return 0;
}

/* Turn the slot array at the offset in *vp into a NULL-terminated vector
 * of pointers, in place; its length, or -1. */
static long
plan_fix_vec(unsigned char *buf, size_t n, char ***vp)
{
	uintptr_t	 off = (uintptr_t)*vp, s;
	long		 i;

	if (off == 0) {
		*vp = NULL;
		return 0;
	}
	if (off < sizeof(struct plan_hdr) || off % sizeof s != 0 || off >= n)
		return -1;
	for (i = 0; ; i++) {
		const char	*str;
		size_t		 at = off + (size_t)i * sizeof s;

		if (n < sizeof s || at > n - sizeof s)
			return -1;
		memcpy(&s, buf + at, sizeof s);
		if (s == 0)
			break;
		str = (const char *)s;
		if (plan_fix_str(buf, n, &str) != 0)
			return -1;
		memcpy(buf + at, &str, sizeof str);
	}
	*vp = (char **)(void *)(buf + off);
	return i;
}

int
plan_unpack(unsigned char *buf, size_t n, const int *fds, size_t nfds,
    int keep_fd, struct child_plan *p)
{
	struct plan_hdr	h;

	if (n < sizeof h || (uintptr_t)buf % _Alignof(struct plan_hdr) != 0)
		return -EBADMSG;
	memcpy(&h, buf, sizeof h);
	if (h.ph_magic != PLAN_MAGIC || h.ph_len != n)
		return -EBADMSG;
	memcpy(p, &h.ph_plan, sizeof *p);
	if (plan_fix_vec(buf, n, &p->cp_argv) != p->cp_argc ||
	    p->cp_argc < 1 || plan_fix_vec(buf, n, &p->cp_envp) < 0 ||
	    plan_fix_str(buf, n, &p->cp_path) != 0 ||
	    plan_fix_str(buf, n, &p->cp_cwd) != 0 ||
	    plan_fix_str(buf, n, &p->cp_name) != 0)
		return -EBADMSG;
	if ((p->cp_entry == NULL) == (p->cp_path == NULL) ||
	    p->cp_cwd == NULL || p->cp_name == NULL ||
	    p->cp_nfds < 0 || p->cp_nfds > LIMIT_FD_TARGET_MAX + 1 ||
	    p->cp_nrlimits < 0 || p->cp_nrlimits > CHILD_RLIMIT_MAX ||
	    p->cp_ngroups < 0 || p->cp_ngroups > CHILD_GROUPS_MAX ||
	    p->cp_exec_policy != NULL)
		return -EBADMSG;
	/* An fd is -1, an index into the message's, or keep_fd: never
	 * another fd this process happens to hold (its control socket). */
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++) {
		if (p->cp_fds[t] == -1 || p->cp_fds[t] == keep_fd)
			continue;
		if (p->cp_fds[t] >= 0 ||
		    PLAN_FD_INDEX(p->cp_fds[t]) >= nfds)
			return -EBADMSG;
		p->cp_fds[t] = fds[PLAN_FD_INDEX(p->cp_fds[t])];
	}
	/* What only the sender's process could mean. */
	p->cp_errfd = -1;
	p->cp_cgroup_procs_fd = -1;
	p->cp_shared_vm = 0;
	p->cp_presetup = 0;
	p->cp_cwd_done = 0;
	return 0;
}

extern char **environ;

/* Variables of the daemon's own that children must not inherit. */
static int
plan_env_private(const char *s)
{
	static const char *const names[] = {
		"NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=",
		"LISTEN_FDNAMES=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
		"INVOCATION_ID=", "CREDENTIALS_DIRECTORY=",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(s, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* A set of variable names (the bytes before '='), open addressing over
 * a power-of-two table at most half full: the environment is built in
 * time linear in its size (it was quadratic: 2 ms of forkd's CPU per
 * spawn with 1,024 entries). */
struct plan_envset {
	const char	**es_slots;
	size_t		  es_mask;
};

/* FNV-1a of the name of "NAME=VALUE". */
static size_t
plan_env_hash(const char *e, size_t *ret_len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; e[i] != '\0' && e[i] != '='; i++)
		h = (h ^ (unsigned char)e[i]) * 0x100000001b3ULL;
	*ret_len = i;
	return (size_t)h;
}

/* The slot of e's name in the set: where it is, or the empty one where
 * it would go. */
static size_t
plan_envset_slot(const struct plan_envset *set, const char *e)
{
	size_t		 len, i = plan_env_hash(e, &len) & set->es_mask;
	const char	*o;

	while ((o = set->es_slots[i]) != NULL) {
		if (strncmp(o, e, len) == 0 && (o[len] == '=' ||
		    o[len] == '\0'))
			break;
		i = (i + 1) & set->es_mask;
	}
	return i;
}

/* Add e's name to the set: 1 if it was new, 0 if already there. */
static int
plan_envset_add(struct plan_envset *set, const char *e)
{
	size_t i = plan_envset_slot(set, e);

	if (set->es_slots[i] != NULL)
		return 0;
	set->es_slots[i] = e;
	return 1;
}

/* Is e's name in the set? */
static int
plan_envset_has(const struct plan_envset *set, const char *e)
{
	return set->es_slots[plan_envset_slot(set, e)] != NULL;
}

/* The daemon's environment less its private variables, as of the last
 * spawn: the slots of environ it was made from (a copy of the array) and
 * the inheritable ones among them. Checking every variable against the
 * private names for every spawn was 328 strncmp() and 287 strlen() per
 * spawn (issue 17, about 7 % of forkd's instructions per cycle); now a
 * spawn compares the array of pointers only, and the names again only
 * when environ or one of its slots changed (setenv(), putenv(), a
 * module's). */
static struct {
	char		**pe_environ;	/* environ when built */
	char		**pe_slots;	/* copy of its pointers, NULL-ended */
	char		**pe_base;	/* the inheritable ones, NULL-ended */
	size_t		  pe_n;		/* slots */
	size_t		  pe_nbase;
} plan_env_cache;

/* The inheritable part of the daemon's environment (cached), its count
 * in *ret_n; NULL when out of memory. */
static char **
plan_env_base(size_t *ret_n)
{
	size_t	 n = 0, m = 0;
	char	**slots, **base;

	for (char **e = environ; e != NULL && *e != NULL; e++)
		n++;
	if (plan_env_cache.pe_slots != NULL &&
	    plan_env_cache.pe_environ == environ &&
	    plan_env_cache.pe_n == n && (n == 0 ||	/* environ may be NULL */
	    memcmp(plan_env_cache.pe_slots, environ, n * sizeof *environ) ==
	    0)) {
		*ret_n = plan_env_cache.pe_nbase;
		return plan_env_cache.pe_base;
	}
	if ((slots = calloc(n + 1, sizeof *slots)) == NULL ||
	    (base = calloc(n + 1, sizeof *base)) == NULL) {
		free(slots);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		slots[i] = environ[i];
		if (!plan_env_private(environ[i]))
			base[m++] = environ[i];
	}
	free(plan_env_cache.pe_slots);
	free(plan_env_cache.pe_base);
	plan_env_cache.pe_environ = environ;
	plan_env_cache.pe_slots = slots;
	plan_env_cache.pe_base = base;
	plan_env_cache.pe_n = n;
	plan_env_cache.pe_nbase = m;
	*ret_n = m;
	return base;
}

/* Build the child's environment: the daemon's (minus private variables)
 * overridden by the request's, or the request's alone. With duplicate
 * keys in the request the last one wins, in the place of its last
 * occurrence. */
static char **
plan_build_env(const Forkd__SpawnRequest *r)
{
	struct plan_envset	 set = { NULL, 0 };
	size_t			 n = 0, k = 0, cap, size = 16;
	char			**envp, **base = NULL;

	if (!r->env_replace && (base = plan_env_base(&n)) == NULL)
		return NULL;
	cap = n + r->n_env + 1;
	while (size < 2 * (r->n_env + 1))
		size *= 2;
	if ((envp = calloc(cap, sizeof *envp)) == NULL ||
	    (set.es_slots = calloc(size, sizeof *set.es_slots)) == NULL) {
		free(envp);
		return NULL;
	}
	set.es_mask = size - 1;
	/* The request's, last occurrence first, at the end of envp. */
	k = cap - 1;
	for (size_t j = r->n_env; j-- > 0;)
		if (plan_envset_add(&set, r->env[j]))
			envp[--k] = r->env[j];
	if (!r->env_replace) {
		size_t	m = 0;

		for (char **e = base; *e != NULL; e++)
			if (r->n_env == 0 || !plan_envset_has(&set, *e))
				envp[m++] = *e;
		memmove(envp + m, envp + k, (cap - 1 - k) * sizeof *envp);
		k = m + (cap - 1 - k);
	} else {
		memmove(envp, envp + k, (cap - 1 - k) * sizeof *envp);
		k = cap - 1 - k;
	}
	envp[k] = NULL;
	free(set.es_slots);
	return envp;
}

/* Highest capability of the running kernel (for drop_caps), read once;
 * CAP_LAST_CAP of the headers when /proc does not say. */
static int
plan_cap_last(void)
{
	static int	cap_last = -1;
	char		buf[16];
	ssize_t		n;
	int		fd, v;

	if (cap_last >= 0)
		return cap_last;
	cap_last = CAP_LAST_CAP;
	if ((fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY |
	    O_CLOEXEC)) < 0)
		return cap_last;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = atoi(buf);
		if (v > 0 && v < 64)
			cap_last = v;
	}
	return cap_last;
}

/* Translate a validated request's set-up fields into the plan (cgroup,
 * pidfd, timeout and NS_PID are the daemon's, at clone time and after). */
static void
plan_setup(const Forkd__SpawnRequest *r, struct child_plan *plan)
{
	uint32_t ns = r->namespaces;

	for (size_t i = 0; i < r->n_rlimits && i < CHILD_RLIMIT_MAX; i++) {
		const Forkd__Rlimit *rl = r->rlimits[i];

		plan->cp_rlimits[i].resource = (int)rl->resource;
		plan->cp_rlimits[i].soft = rl->soft == UINT64_MAX ?
		    RLIM_INFINITY : (rlim_t)rl->soft;
		plan->cp_rlimits[i].hard = rl->hard == UINT64_MAX ?
		    RLIM_INFINITY : (rlim_t)rl->hard;
		plan->cp_nrlimits++;
	}
	plan->cp_umask = r->umask != NULL ? (int)(r->umask->value & 0777) : -1;
	if (r->nice != NULL) {
		plan->cp_nice_set = 1;
		plan->cp_nice = r->nice->value;
	}
	CPU_ZERO(&plan->cp_cpus);
	for (size_t i = 0; i < r->n_cpus && i < LIMIT_CPUS_MAX; i++)
		if (r->cpus[i] < CPU_SETSIZE)
			CPU_SET(r->cpus[i], &plan->cp_cpus);
	plan->cp_ncpus = CPU_COUNT(&plan->cp_cpus);
	plan->cp_pgroup_only = r->pgroup == FORKD__PROCESS_GROUP__PGROUP_GROUP;
	if (r->identity != NULL) {
		const Forkd__Identity *id = r->identity;

		plan->cp_identity = 1;
		plan->cp_uid = (uid_t)id->uid;
		plan->cp_gid = (gid_t)id->gid;
		for (size_t i = 0; i < id->n_groups && i < CHILD_GROUPS_MAX; i++)
			plan->cp_groups[plan->cp_ngroups++] =
			    (gid_t)id->groups[i];
	}
	plan->cp_no_new_privs = r->no_new_privs;
	plan->cp_drop_caps = r->drop_caps;
	if (plan->cp_drop_caps)
		plan->cp_cap_last = plan_cap_last();
	if (ns & FORKD__NAMESPACE__NS_MOUNT)
		plan->cp_unshare |= CLONE_NEWNS;
	if (ns & FORKD__NAMESPACE__NS_NET)
		plan->cp_unshare |= CLONE_NEWNET;
	if (ns & FORKD__NAMESPACE__NS_IPC)
		plan->cp_unshare |= CLONE_NEWIPC;
	if (ns & FORKD__NAMESPACE__NS_UTS)
		plan->cp_unshare |= CLONE_NEWUTS;
	if (ns & FORKD__NAMESPACE__NS_USER)
		plan->cp_unshare |= CLONE_NEWUSER;
}

/* Build a child's plan from a validated request: the entry (or exec_path),
 * the fd map, argv and environment. Used by the daemon before fork() and by
 * a pool child after it received the request. Free with plan_free(). */
int
plan_build(const Forkd__SpawnRequest *r, const int *fds, size_t nfds,
    const char *name, const char *exec_path,
    const struct forkd_module_entry *entry, struct child_plan *plan)
{
	char		**av;

	memset(plan, 0, sizeof *plan);
	plan->cp_errfd = -1;
	plan->cp_umask = -1;
	plan->cp_cgroup_procs_fd = -1;
	if (exec_path != NULL)
		plan->cp_path = exec_path;
	else if ((plan->cp_entry = entry) == NULL)
		return -ENOENT;
	/* The fd map: 0-2 default to /dev/null, others closed unless given. */
	plan->cp_nfds = 3;
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
		plan->cp_fds[t] = t < 3 ? server_devnull() : -1;
	for (size_t i = 0; i < nfds; i++) {
		uint32_t t = r->fd_targets[i];

		if (t > LIMIT_FD_TARGET_MAX)
			return -EBADF;
		plan->cp_fds[t] = fds[i];
		if ((int)t + 1 > plan->cp_nfds)
			plan->cp_nfds = (int)t + 1;
	}
	/* protobuf-c gives a counted argv; execve wants it NULL-terminated. */
	plan->cp_argc = r->n_argv > 0 ? (int)r->n_argv : 1;
	if ((av = calloc((size_t)plan->cp_argc + 1, sizeof *av)) == NULL)
		return -ENOMEM;
	if (r->n_argv > 0)
		memcpy(av, r->argv, r->n_argv * sizeof *av);
	else
		av[0] = r->target;
	plan->cp_argv = av;
	if ((plan->cp_envp = plan_build_env(r)) == NULL) {
		plan_free(plan);
		return -ENOMEM;
	}
	plan->cp_cwd = (r->cwd != NULL && r->cwd[0] != '\0') ? r->cwd : "/";
	plan->cp_name = name;
	plan->cp_daemon = r->daemon;
	plan->cp_parent = server_pid();
	plan_setup(r, plan);
	return 0;
}

/* Free what plan_build() allocated; a zeroed plan is fine. */
void
plan_free(struct child_plan *plan)
{
	free(plan->cp_argv);
	free(plan->cp_envp);
	plan->cp_argv = NULL;
	plan->cp_envp = NULL;
}
