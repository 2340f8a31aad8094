/* plan.h: a child plan flattened into one buffer, for the pool hand-over.
 *
 * forkd builds the plan of every spawn (plan_build()). A pool child
 * used to get the request instead and build the same plan again: a
 * protobuf parse, mallocs and the environment merge, all on the spawn's
 * critical path and all in a process that has just been woken with cold
 * caches (on the benchmark VM that was ~100 us of the time to first
 * instruction). Now forkd sends the plan itself: the struct as it is (the
 * pool child runs the same image, so the module entry pointer and the
 * layout are the same), with every pointer turned into an offset into the
 * buffer and every string copied after it. The pool child only checks the
 * offsets and turns them back into pointers in place: no allocation, no
 * parsing. Both sides are one executable; the format is not a protocol. */
#ifndef FORKD_PLAN_H
#define FORKD_PLAN_H

#include <stddef.h>

#include "child.h"

struct Forkd__SpawnRequest;

/* Build a child's plan from a request validate_spawn() and spawn_request()
 * accepted: the entry spawn_request() looked up (or exec_path), the fd
 * map, argv, the environment and the set-up options. 0 or -errno; free
 * with plan_free(). */
int	plan_build(const struct Forkd__SpawnRequest *, const int *fds,
	    size_t nfds, const char *name, const char *exec_path,
	    const struct forkd_module_entry *entry, struct child_plan *);
/* Free what plan_build() allocated; a zeroed plan is fine. */
void	plan_free(struct child_plan *);

/* Flatten p into buf (cap bytes, aligned for pointers). p->cp_fds entries
 * that are one of fds[0..nfds) are sent as "the i-th fd of the message";
 * keep_fd (forkd's /dev/null, which pool children keep) and -1 go as they
 * are; any other fd cannot be handed over (-EINVAL), nor can a plan with a
 * cgroup.procs fd or an exec policy (cp_exec_policy: a pool child's copy
 * of it may be stale). 0 and *ret_len, or -EMSGSIZE when it does not fit. */
int	plan_pack(const struct child_plan *p, const int *fds, size_t nfds,
	    int keep_fd, unsigned char *buf, size_t cap, size_t *ret_len);

/* Rebuild the plan from n bytes at buf (which it then points into, so buf
 * must live as long as the plan) and the fds that came with the message.
 * Every offset and index is checked: -EBADMSG if one is out of bounds, a
 * string is not terminated, a count is out of range or an fd is neither
 * -1, one of the message's nor keep_fd; 0 otherwise. The sender's own fds
 * (error pipe, cgroup.procs) and its cp_shared_vm and cp_presetup do not
 * carry over. The module entry pointer cannot be checked here: the caller
 * does (module_entry_known()). */
int	plan_unpack(unsigned char *buf, size_t n, const int *fds, size_t nfds,
	    int keep_fd, struct child_plan *p);

#endif
