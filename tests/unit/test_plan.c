/* test_plan.c: the flattened child plan of the pool hand-over
 * (daemon/plan.c): what a pool child rebuilds is what forkd built, and a
 * damaged buffer is refused, never followed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static unsigned char	buf[64 * 1024] __attribute__((aligned(16)));

/* A plan like spawn_plan_build() makes: exec path, argv, env, cwd, name,
 * fds 0 and 1 from the message (numbers 40, 41 in "forkd"), 2 kept as
 * "forkd's /dev/null" (7), and a few set-up values. */
static char *t_argv[] = { "/bin/prog", "one", "", "three", NULL };
static char *t_envp[] = { "A=1", "PATH=/usr/bin", NULL };
static const int t_fds[] = { 40, 41 };

static void
make_plan(struct child_plan *p)
{
	memset(p, 0, sizeof *p);
	p->cp_path = "/bin/prog";
	p->cp_argv = t_argv;
	p->cp_argc = 4;
	p->cp_envp = t_envp;
	p->cp_cwd = "/tmp";
	p->cp_name = "prog-7";
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
		p->cp_fds[t] = -1;
	p->cp_fds[0] = 40;
	p->cp_fds[1] = 41;
	p->cp_fds[2] = 7;
	p->cp_nfds = 3;
	p->cp_errfd = 99;
	p->cp_cgroup_procs_fd = -1;
	p->cp_daemon = 1;
	p->cp_parent = 1234;
	p->cp_umask = 022;
	p->cp_nrlimits = 1;
	p->cp_rlimits[0].resource = 7;
	p->cp_rlimits[0].soft = 64;
	p->cp_rlimits[0].hard = 128;
	p->cp_ngroups = 2;
	p->cp_groups[0] = 10;
	p->cp_groups[1] = 20;
}

static size_t
pack(const struct child_plan *p)
{
	size_t	len = 0;

	assert_int_equal(plan_pack(p, t_fds, 2, buf, sizeof buf, &len), 0);
	assert_true(len > sizeof *p);
	return len;
}

static void
test_round_trip(void **state)
{
	struct child_plan	p, q;
	const int		got_fds[] = { 3, 4 };	/* as the child got them */
	size_t			len;

	(void)state;
	make_plan(&p);
	len = pack(&p);
	/* The sender's plan is untouched. */
	assert_string_equal(p.cp_argv[1], "one");
	assert_int_equal(p.cp_fds[0], 40);

	memset(&q, 0xa5, sizeof q);
	assert_int_equal(plan_unpack(buf, len, got_fds, 2, &q), 0);
	assert_string_equal(q.cp_path, "/bin/prog");
	assert_null(q.cp_entry);
	assert_int_equal(q.cp_argc, 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(q.cp_argv[i], t_argv[i]);
	assert_null(q.cp_argv[4]);
	assert_string_equal(q.cp_envp[0], "A=1");
	assert_string_equal(q.cp_envp[1], "PATH=/usr/bin");
	assert_null(q.cp_envp[2]);
	assert_string_equal(q.cp_cwd, "/tmp");
	assert_string_equal(q.cp_name, "prog-7");
	/* Pointers lead into the buffer, not back to the sender's memory. */
	assert_true((unsigned char *)q.cp_argv[1] >= buf &&
	    (unsigned char *)q.cp_argv[1] < buf + len);
	/* Message fds become the child's numbers; others pass as they are. */
	assert_int_equal(q.cp_fds[0], 3);
	assert_int_equal(q.cp_fds[1], 4);
	assert_int_equal(q.cp_fds[2], 7);
	assert_int_equal(q.cp_fds[3], -1);
	assert_int_equal(q.cp_nfds, 3);
	/* fds that were only the sender's are not carried over. */
	assert_int_equal(q.cp_errfd, -1);
	assert_int_equal(q.cp_cgroup_procs_fd, -1);
	assert_int_equal(q.cp_daemon, 1);
	assert_int_equal(q.cp_parent, 1234);
	assert_int_equal(q.cp_umask, 022);
	assert_int_equal(q.cp_nrlimits, 1);
	assert_int_equal(q.cp_rlimits[0].soft, 64);
	assert_int_equal(q.cp_rlimits[0].hard, 128);
	assert_int_equal(q.cp_ngroups, 2);
	assert_int_equal(q.cp_groups[1], 20);
}

/* No environment at all (env_replace with nothing) stays NULL-free: an
 * empty vector, and an entry plan keeps its entry pointer. */
static void
test_empty_env_and_entry(void **state)
{
	static const struct forkd_module_entry entry;
	char			*noenv[] = { NULL };
	struct child_plan	 p, q;
	size_t			 len;

	(void)state;
	make_plan(&p);
	p.cp_path = NULL;
	p.cp_entry = &entry;
	p.cp_envp = noenv;
	len = pack(&p);
	assert_int_equal(plan_unpack(buf, len, t_fds, 2, &q), 0);
	assert_ptr_equal(q.cp_entry, &entry);
	assert_null(q.cp_path);
	assert_non_null(q.cp_envp);
	assert_null(q.cp_envp[0]);
}

static void
test_pack_refusals(void **state)
{
	struct child_plan	p;
	size_t			len = 0;

	(void)state;
	make_plan(&p);
	/* Too small a buffer: -EMSGSIZE at every size short of the need. */
	len = pack(&p);
	for (size_t cap = 0; cap < len; cap += 7) {
		size_t l2 = 0;

		assert_int_equal(plan_pack(&p, t_fds, 2, buf, cap, &l2),
		    -EMSGSIZE);
	}
	/* A cgroup.procs fd cannot travel; nor can a plan without argv. */
	p.cp_cgroup_procs_fd = 5;
	assert_int_equal(plan_pack(&p, t_fds, 2, buf, sizeof buf, &len),
	    -EINVAL);
	make_plan(&p);
	p.cp_argv = NULL;
	assert_int_equal(plan_pack(&p, t_fds, 2, buf, sizeof buf, &len),
	    -EINVAL);
	/* A misaligned buffer is refused, not used. */
	make_plan(&p);
	assert_int_equal(plan_pack(&p, t_fds, 2, buf + 1, sizeof buf - 1,
	    &len), -EINVAL);
}

/* Every truncation of a good message, and every single-byte change to
 * its header, is refused or still yields pointers inside the buffer. */
static void
test_damaged(void **state)
{
	struct child_plan	p, q;
	size_t			len;

	(void)state;
	make_plan(&p);
	len = pack(&p);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(plan_unpack(buf, n, t_fds, 2, &q), -EBADMSG);
	/* Fewer fds than the plan names. */
	len = pack(&p);
	assert_int_equal(plan_unpack(buf, len, t_fds, 1, &q), -EBADMSG);
	/* Wrong magic. */
	len = pack(&p);
	buf[0] ^= 1;
	assert_int_equal(plan_unpack(buf, len, t_fds, 2, &q), -EBADMSG);
	/* The last string loses its terminator. */
	len = pack(&p);
	buf[len - 1] = 'x';
	assert_int_equal(plan_unpack(buf, len, t_fds, 2, &q), -EBADMSG);
	/* Bytes of the plan header flipped one at a time. */
	for (size_t i = 8; i < 8 + sizeof p; i++) {
		int r;

		len = pack(&p);
		buf[i] ^= 0x41;
		r = plan_unpack(buf, len, t_fds, 2, &q);
		if (r != 0) {
			assert_int_equal(r, -EBADMSG);
			continue;
		}
		for (int a = 0; a < q.cp_argc; a++)
			assert_true((unsigned char *)q.cp_argv[a] >= buf &&
			    (unsigned char *)q.cp_argv[a] < buf + len);
		assert_true(q.cp_nfds >= 0 &&
		    q.cp_nfds <= LIMIT_FD_TARGET_MAX + 1);
		for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
			assert_true(q.cp_fds[t] >= -1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_env_and_entry),
		cmocka_unit_test(test_pack_refusals),
		cmocka_unit_test(test_damaged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
