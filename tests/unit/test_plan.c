/* test_plan.c: the flattened child plan of the pool hand-over
 * (daemon/plan.c): what a pool child rebuilds is what forkd built, and a
 * damaged buffer is refused, never followed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forkd.pb-c.h"
#include "plan.h"

static unsigned char	buf[64 * 1024] __attribute__((aligned(16)));

/* The plan struct sits after the magic and the length. */
#define PLAN_AT		8
/* forkd's /dev/null in the test plan: the one fd number that travels as
 * itself. */
#define KEEP_FD		7

/* A plan like plan_build() makes: exec path, argv, env, cwd, name,
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
	p->cp_fds[2] = KEEP_FD;
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

	assert_int_equal(plan_pack(p, t_fds, 2, KEEP_FD, buf, sizeof buf,
	    &len), 0);
	assert_true(len > sizeof *p);
	return len;
}

/* plan_unpack() of the first len bytes of buf, copied to a heap block of
 * exactly that size, so that a read past the end is a sanitizer error;
 * the copy lives until the next call (the plan points into it). */
static unsigned char	*copy;

static int
unpack(size_t len, const int *fds, size_t nfds, struct child_plan *q)
{
	free(copy);
	copy = malloc(len > 0 ? len : 1);	/* malloc aligns for pointers */
	assert_non_null(copy);
	memcpy(copy, buf, len);
	return plan_unpack(copy, len, fds, nfds, KEEP_FD, q);
}

/* Is s inside [base, base + len) and terminated there? */
static int
str_inside(const char *s, const unsigned char *base, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	return u >= base && u < base + len &&
	    memchr(u, '\0', (size_t)(base + len - u)) != NULL;
}

/* Offset of a plan field in the packed buffer. */
#define FIELD(f)	(PLAN_AT + offsetof(struct child_plan, f))

/* Read / overwrite one field of the packed plan. */
static uintptr_t
get_field(size_t at)
{
	uintptr_t v;

	memcpy(&v, buf + at, sizeof v);
	return v;
}

static void
put_field(size_t at, const void *v, size_t size)
{
	memcpy(buf + at, v, size);
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
	assert_int_equal(plan_unpack(buf, len, got_fds, 2, KEEP_FD, &q), 0);
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
	assert_int_equal(q.cp_fds[2], KEEP_FD);
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
	assert_int_equal(unpack(len, t_fds, 2, &q), 0);
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

		assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf, cap,
		    &l2), -EMSGSIZE);
	}
	/* A cgroup.procs fd cannot travel; nor can a plan without argv. */
	p.cp_cgroup_procs_fd = 5;
	assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf, sizeof buf,
	    &len), -EINVAL);
	make_plan(&p);
	p.cp_argv = NULL;
	assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf, sizeof buf,
	    &len), -EINVAL);
	make_plan(&p);
	p.cp_argc = 0;
	assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf, sizeof buf,
	    &len), -EINVAL);
	/* An fd that is neither in the message nor the kept one: the pool
	 * child would not have it. */
	make_plan(&p);
	p.cp_fds[3] = 12;
	p.cp_nfds = 4;
	assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf, sizeof buf,
	    &len), -EINVAL);
	/* A misaligned buffer is refused, not used. */
	make_plan(&p);
	assert_int_equal(plan_pack(&p, t_fds, 2, KEEP_FD, buf + 1,
	    sizeof buf - 1, &len), -EINVAL);
}

/* One targeted change to a good message per check of plan_unpack(): each
 * is refused on its own. */
static void
test_refusals(void **state)
{
	static const struct forkd_module_entry entry;
	static const struct {
		size_t	at;
		int	v;
	} bad_counts[] = {
		{ FIELD(cp_nfds), -1 },
		{ FIELD(cp_nfds), LIMIT_FD_TARGET_MAX + 2 },
		{ FIELD(cp_nrlimits), -1 },
		{ FIELD(cp_nrlimits), CHILD_RLIMIT_MAX + 1 },
		{ FIELD(cp_ngroups), -1 },
		{ FIELD(cp_ngroups), CHILD_GROUPS_MAX + 1 },
	};
	struct child_plan	p, q;
	const int		bad_fd = 12;
	uintptr_t		argv_at, v;
	unsigned char		*odd;
	size_t			len;
	int			i;

	(void)state;
	make_plan(&p);
	len = pack(&p);
	argv_at = get_field(FIELD(cp_argv));
	assert_int_equal(unpack(len, t_fds, 2, &q), 0);

#define REFUSED(what) do {						\
	assert_int_equal(unpack(len, t_fds, 2, &q), -EBADMSG);		\
	len = pack(&p);		/* a fresh copy for the next case */	\
	(void)(what);							\
} while (0)

	/* The length field disagrees with the datagram. */
	v = len - 1;
	put_field(4, &(uint32_t){ (uint32_t)v }, sizeof(uint32_t));
	REFUSED("ph_len");
	/* A string offset into the header, at the end, past the end. */
	v = 4;
	put_field(FIELD(cp_cwd), &v, sizeof v);
	REFUSED("string in the header");
	v = len;
	put_field(FIELD(cp_name), &v, sizeof v);
	REFUSED("string past the end");
	/* cwd and name must be there. */
	v = 0;
	put_field(FIELD(cp_cwd), &v, sizeof v);
	REFUSED("no cwd");
	put_field(FIELD(cp_name), &v, sizeof v);
	REFUSED("no name");
	/* Exactly one of entry and path: neither, then both. */
	put_field(FIELD(cp_path), &v, sizeof v);
	REFUSED("neither entry nor path");
	v = (uintptr_t)&entry;
	put_field(FIELD(cp_entry), &v, sizeof v);
	REFUSED("entry and path");
	/* The argv slot array misaligned, in the header, running off the
	 * end (its last slot cut), or pointing at a string. */
	v = argv_at + 1;
	put_field(FIELD(cp_argv), &v, sizeof v);
	REFUSED("misaligned slots");
	v = PLAN_AT;
	put_field(FIELD(cp_argv), &v, sizeof v);
	REFUSED("slots in the header");
	/* Slots that would be good but for where they are: in the header
	 * (an unused rlimit's soft and hard values: argv[0]'s offset, 0),
	 * or appended at an odd offset. */
	{
		uintptr_t	s0 = get_field(argv_at), zero = 0;
		size_t		at = FIELD(cp_rlimits[1].soft);

		put_field(at, &s0, sizeof s0);
		put_field(FIELD(cp_rlimits[1].hard), &zero, sizeof zero);
		v = at;
		put_field(FIELD(cp_envp), &v, sizeof v);
		REFUSED("good slots in the header");

		at = ((len + 7) & ~(size_t)7) + 1;
		memset(buf + len, 0, at - len);
		put_field(at, &s0, sizeof s0);
		put_field(at + sizeof v, &zero, sizeof zero);
		v = at;
		put_field(FIELD(cp_envp), &v, sizeof v);
		len = at + 2 * sizeof v;
		put_field(4, &(uint32_t){ (uint32_t)len }, sizeof(uint32_t));
		REFUSED("good slots at an odd offset");
	}
	/* Slots naming good strings that run off the end of the message
	 * without their terminating 0. */
	{
		size_t		at = (len + 7) & ~(size_t)7;
		uint32_t	total = (uint32_t)(at + 2 * sizeof v);
		uintptr_t	s0 = get_field(argv_at);
		uintptr_t	s1 = get_field(argv_at + sizeof v);

		memset(buf + len, 0, at - len);
		put_field(at, &s0, sizeof s0);
		put_field(at + sizeof v, &s1, sizeof s1);
		put_field(4, &total, sizeof total);
		v = at;
		put_field(FIELD(cp_envp), &v, sizeof v);
		len = total;
		REFUSED("slots off the end");
	}
	v = get_field(argv_at);		/* argv[0]'s offset: a string */
	put_field(FIELD(cp_envp), &v, sizeof v);
	REFUSED("envp slots on a string");
	/* argc against the vector: one more, one less, and 0 with an empty
	 * vector (argv's own terminating slot). */
	i = 5;
	put_field(FIELD(cp_argc), &i, sizeof i);
	REFUSED("argc too big");
	i = 3;
	put_field(FIELD(cp_argc), &i, sizeof i);
	REFUSED("argc too small");
	i = 0;
	v = argv_at + 4 * sizeof v;
	put_field(FIELD(cp_argc), &i, sizeof i);
	put_field(FIELD(cp_argv), &v, sizeof v);
	REFUSED("argc 0");
	/* Counts out of range, below and above. */
	for (size_t k = 0; k < sizeof bad_counts / sizeof bad_counts[0];
	    k++) {
		put_field(bad_counts[k].at, &bad_counts[k].v,
		    sizeof bad_counts[k].v);
		REFUSED(k);
	}
	/* An fd that is not the message's or the kept one (the pool child's
	 * control socket, say), and a message index past its fds. */
	put_field(FIELD(cp_fds[2]), &bad_fd, sizeof bad_fd);
	REFUSED("fd not in the message");
	i = -2 - 2;
	put_field(FIELD(cp_fds[1]), &i, sizeof i);
	REFUSED("fd index past the message's");
	assert_int_equal(unpack(len, t_fds, 1, &q), -EBADMSG);
	/* Wrong magic. */
	buf[0] ^= 1;
	REFUSED("magic");
	/* The last string loses its terminator. */
	buf[len - 1] = 'x';
	REFUSED("unterminated");
#undef REFUSED

	/* A buffer that is not aligned for pointers. */
	odd = malloc(len + 1);
	assert_non_null(odd);
	memcpy(odd + 1, buf, len);
	assert_int_equal(plan_unpack(odd + 1, len, t_fds, 2, KEEP_FD, &q),
	    -EBADMSG);
	free(odd);

	/* What only meant something in the sender does not carry over. */
	i = 5;
	put_field(FIELD(cp_errfd), &i, sizeof i);
	put_field(FIELD(cp_cgroup_procs_fd), &i, sizeof i);
	i = 1;
	put_field(FIELD(cp_shared_vm), &i, sizeof i);
	put_field(FIELD(cp_presetup), &i, sizeof i);
	put_field(FIELD(cp_cwd_done), &i, sizeof i);
	assert_int_equal(unpack(len, t_fds, 2, &q), 0);
	assert_int_equal(q.cp_errfd, -1);
	assert_int_equal(q.cp_cgroup_procs_fd, -1);
	assert_int_equal(q.cp_shared_vm, 0);
	assert_int_equal(q.cp_presetup, 0);
	assert_int_equal(q.cp_cwd_done, 0);
}

/* Every truncation of a good message is refused; every single-byte change
 * to its header is refused or yields a plan whose every string is
 * terminated inside the buffer and whose counts and fds are in range. */
static void
test_damaged(void **state)
{
	struct child_plan	p, q;
	size_t			len;

	(void)state;
	make_plan(&p);
	len = pack(&p);
	for (size_t n = 0; n < len; n++)
		assert_int_equal(unpack(n, t_fds, 2, &q), -EBADMSG);
	for (size_t i = 0; i < PLAN_AT + sizeof p; i++) {
		int	r;

		len = pack(&p);
		buf[i] ^= 0x41;
		r = unpack(len, t_fds, 2, &q);
		if (r != 0) {
			assert_int_equal(r, -EBADMSG);
			continue;
		}
		assert_true(q.cp_argc >= 1);
		for (int a = 0; a < q.cp_argc; a++)
			assert_true(str_inside(q.cp_argv[a], copy, len));
		assert_null(q.cp_argv[q.cp_argc]);
		for (char **e = q.cp_envp; e != NULL && *e != NULL; e++)
			assert_true(str_inside(*e, copy, len));
		assert_true(str_inside(q.cp_cwd, copy, len));
		assert_true(str_inside(q.cp_name, copy, len));
		assert_true(q.cp_path == NULL ||
		    str_inside(q.cp_path, copy, len));
		assert_true((q.cp_entry == NULL) != (q.cp_path == NULL));
		assert_true(q.cp_nfds >= 0 &&
		    q.cp_nfds <= LIMIT_FD_TARGET_MAX + 1);
		assert_true(q.cp_nrlimits >= 0 &&
		    q.cp_nrlimits <= CHILD_RLIMIT_MAX);
		assert_true(q.cp_ngroups >= 0 &&
		    q.cp_ngroups <= CHILD_GROUPS_MAX);
		for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
			assert_true(q.cp_fds[t] == -1 ||
			    q.cp_fds[t] == KEEP_FD || q.cp_fds[t] == t_fds[0] ||
			    q.cp_fds[t] == t_fds[1]);
	}
}

/* Is "NAME=..." in the plan's environment, and with which value? */
static const char *
env_of(const struct child_plan *p, const char *name)
{
	size_t len = strlen(name);

	for (char **e = p->cp_envp; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/* plan_build()'s environment is forkd's less its private variables, with
 * the request's on top, and follows forkd's environment when it changes
 * between two spawns (the inheritable part is cached, issue 17). */
static void
test_build_env(void **state)
{
	Forkd__SpawnRequest	 r = FORKD__SPAWN_REQUEST__INIT;
	struct child_plan	 p;
	char			*env[] = { "T_REQ=r", "T_BASE=over" };

	(void)state;
	r.target = "/bin/true";
	assert_int_equal(setenv("NOTIFY_SOCKET", "/run/notify", 1), 0);
	assert_int_equal(setenv("T_BASE", "b", 1), 0);
	unsetenv("T_LATER");
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_null(env_of(&p, "NOTIFY_SOCKET"));
	assert_string_equal(env_of(&p, "T_BASE"), "b");
	assert_null(env_of(&p, "T_LATER"));
	plan_free(&p);

	/* Changed between two spawns: added, replaced, removed. */
	assert_int_equal(setenv("T_LATER", "1", 1), 0);
	assert_int_equal(setenv("T_BASE", "c", 1), 0);
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_string_equal(env_of(&p, "T_LATER"), "1");
	assert_string_equal(env_of(&p, "T_BASE"), "c");
	assert_null(env_of(&p, "NOTIFY_SOCKET"));
	plan_free(&p);
	unsetenv("T_LATER");
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_null(env_of(&p, "T_LATER"));
	plan_free(&p);

	/* The request's on top, once each; env_replace: the request's only. */
	r.env = env;
	r.n_env = 2;
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_string_equal(env_of(&p, "T_REQ"), "r");
	assert_string_equal(env_of(&p, "T_BASE"), "over");
	{
		size_t n = 0;

		for (char **e = p.cp_envp; *e != NULL; e++)
			n += strncmp(*e, "T_BASE=", 7) == 0;
		assert_int_equal(n, 1);
	}
	plan_free(&p);
	r.env_replace = 1;
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_string_equal(p.cp_envp[0], "T_REQ=r");
	assert_string_equal(p.cp_envp[1], "T_BASE=over");
	assert_null(p.cp_envp[2]);
	plan_free(&p);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("T_BASE");

	/* No environment at all (clearenv() leaves environ NULL), then one
	 * variable again. */
	r.env = NULL;
	r.n_env = 0;
	r.env_replace = 0;
	assert_int_equal(clearenv(), 0);
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_null(p.cp_envp[0]);
	plan_free(&p);
	assert_int_equal(setenv("T_AGAIN", "1", 1), 0);
	assert_int_equal(plan_build(&r, NULL, 0, "t", "/bin/true", NULL, &p),
	    0);
	assert_string_equal(env_of(&p, "T_AGAIN"), "1");
	assert_null(p.cp_envp[1]);
	plan_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_env_and_entry),
		cmocka_unit_test(test_pack_refusals),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_build_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
