/* plan.c: a child plan flattened into one buffer, for the pool hand-over
 * (see plan.h). Runs in forkd (plan_pack) and in a pool child between its
 * wake-up and its target (plan_unpack): no allocation, no stdio, no log. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "plan.h"

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
	return 0;
}
