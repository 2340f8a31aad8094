/* life.c: the child's life as forkd decides it at creation (issue 5):
 * the creation flags, the cgroup and the pidfd of one spawn, checked
 * against what this host and this peer allow, made before the clone and
 * handed to the child record after it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgroup.h"
#include "forkd.pb-c.h"
#include "clone.h"
#include "life.h"

/* Is the peer in forkd's PID namespace? A pidfd and the pid in the reply
 * mean the same process only there. Unknown (no /proc access): yes. */
static int
life_peer_same_pidns(pid_t peer)
{
	struct stat	a, b;
	char		path[64];

	if (peer <= 0)
		return 0;	/* SO_PEERCRED: a peer in an outer namespace */
	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)peer);
	if (stat("/proc/self/ns/pid", &a) != 0 || stat(path, &b) != 0)
		return 1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The request's cgroup limits. */
static void
life_cgroup_limits(const Forkd__CgroupSpec *cs, struct cgroup_limits *l)
{
	memset(l, 0, sizeof *l);
	l->cl_memory_max = cs->memory_max;
	l->cl_pids_max = cs->pids_max;
	l->cl_cpu_quota_us = cs->cpu_quota_us;
	l->cl_cpu_period_us = cs->cpu_period_us;
}

/* Check what the request's life options need of this host and this peer
 * (cgroup support, the PID namespace for a pidfd; validate_spawn() checked
 * their values): 0, or -errno with a message for the client. */
int
life_check(pid_t peer, const Forkd__SpawnRequest *r, char *msg, size_t msglen)
{
	if (r->cgroup != NULL) {
		struct cgroup_limits l;

		life_cgroup_limits(r->cgroup, &l);
		if (cgroup_check(&l, msg, msglen) != 0)
			return -EOPNOTSUPP;
	}
	if (r->want_pidfd && !life_peer_same_pidns(peer)) {
		snprintf(msg, msglen, "pidfd: the client is not in forkd's "
		    "PID namespace");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Before the child is created: its cgroup and creation flags. */
int
life_prepare(const Forkd__SpawnRequest *r, struct life *l,
    char *msg, size_t msglen)
{
	struct cgroup_limits	lim;
	int			err, fd;

	l->l_create.sc_want_pidfd = r->want_pidfd;
	l->l_create.sc_newpid = (r->namespaces & FORKD__NAMESPACE__NS_PID) != 0;
	l->l_create.sc_newuser = (r->namespaces & FORKD__NAMESPACE__NS_USER) != 0;
	if (r->cgroup != NULL) {
		life_cgroup_limits(r->cgroup, &lim);
		if ((err = cgroup_create(&lim, &l->l_cgroup, msg, msglen)) != 0)
			return err;
		l->l_create.sc_cgroup_fd = l->l_cgroup->cu_dirfd;
		/* Only needed where CLONE_INTO_CGROUP is not: cheap anyway. */
		if ((fd = cgroup_procs_open(l->l_cgroup)) < 0) {
			snprintf(msg, msglen, "cannot open %s/cgroup.procs: %s",
			    l->l_cgroup->cu_path, strerror(-fd));
			return fd;
		}
		l->l_create.sc_procs_fd = fd;
	}
	/* A pool child's pidfd comes from pidfd_open() (spawn.c); a
	 * cgroup or a PID namespace is had at creation only. */
	l->l_bypass_pool = (r->want_pidfd && !clone_pidfd_open_works()) ||
	    r->cgroup != NULL || l->l_create.sc_newpid;
	return 0;
}

/* Release what a spawn_life still holds (after a failure, or what the
 * child record did not take). */
void
life_free(struct life *l)
{
	if (l->l_create.sc_procs_fd >= 0)
		close(l->l_create.sc_procs_fd);
	l->l_create.sc_procs_fd = -1;
	l->l_create.sc_cgroup_fd = -1;
	if (l->l_pidfd >= 0)
		close(l->l_pidfd);
	l->l_pidfd = -1;
	cgroup_release(l->l_cgroup);
	l->l_cgroup = NULL;
}

/* The child exists: the cgroup's directory fd was for clone3() only, not
 * one fd per live child. */
void
life_created(struct life *l)
{
	if (l->l_cgroup != NULL && l->l_cgroup->cu_dirfd >= 0) {
		close(l->l_cgroup->cu_dirfd);
		l->l_cgroup->cu_dirfd = -1;
	}
}

/* Hand the pidfd and the cgroup over to the child record. */
void
life_take(struct life *l, int *ret_pidfd, struct cgroup_unit **ret_cgroup)
{
	*ret_pidfd = l->l_pidfd;
	l->l_pidfd = -1;
	*ret_cgroup = l->l_cgroup;
	l->l_cgroup = NULL;
}
