/* fuzz_plan.c: libFuzzer target for the pool hand-over (daemon/plan.c).
 *
 * A pool child takes its plan back out of the datagram forkd sent it with
 * plan_unpack(), which turns offsets into pointers in place. Only forkd
 * writes to that socket, but a bug there is a wild pointer in a process
 * about to become a client's child, so the unpacking is fuzzed like the
 * bytes of a peer.
 *
 * Input: one byte, of which the low 5 bits are the number of fds that came
 * with the message (0 to WIRE_MAX_FDS; larger values wrap), then the
 * message. The message is copied into a heap buffer of exactly its size,
 * so a read past its end is an ASan report. The fds are stand-in numbers
 * (FUZZ_FD_BASE + i), never used as fds; keep_fd is FUZZ_KEEP_FD.
 *
 * Checked when plan_unpack() succeeds: every string (argv, envp, path,
 * cwd, name) lies inside the buffer, after the header, and ends there;
 * argv has exactly cp_argc entries and envp is NULL-terminated; exactly
 * one of entry and path is set; every counted array is within its bounds;
 * every fd is -1, keep_fd or one of the message's; the sender's own fds
 * and flags are cleared. Then the plan is packed again and unpacked from
 * the new buffer, which must give the same plan (unless it no longer
 * fits: slots may share a string). A failure must be -EBADMSG. A broken
 * property abort()s, which libFuzzer reports.
 *
 * Seeds: FORKD_FUZZ_PLAN_SEEDS=DIR fuzz_plan writes three plans packed by
 * this build's plan_pack() (a module entry; an exec with an environment
 * and fds; limits and identity) to DIR and exits. The format is the
 * struct's own layout: rerun it into corpus/fuzz_plan after a change to
 * struct child_plan.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkd_limits.h"
#include "fuzz_check.h"
#include "plan.h"
#include "wire.h"

#define FUZZ_FD_BASE	100
#define FUZZ_KEEP_FD	7

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char	fuzz_repack[WIRE_FRAME_HARD_MAX]
    __attribute__((aligned(16)));

/* Is s a string that starts after the header and ends inside buf[0, n)?
 * The header is the magic, the length and the plan struct. */
static int
fuzz_in_buf(const unsigned char *buf, size_t n, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	return u >= buf + 2 * sizeof(uint32_t) + sizeof(struct child_plan) &&
	    u < buf + n &&
	    memchr(u, '\0', (size_t)(buf + n - u)) != NULL;
}

/* Check what a successful unpack promises; the length of envp. */
static size_t
fuzz_check(const unsigned char *buf, size_t n, const int *fds, size_t nfds,
    const struct child_plan *p)
{
	size_t	nenv = 0;

	CHECK(p->cp_argc >= 1 && p->cp_argv != NULL, "argc %d", p->cp_argc);
	for (int i = 0; i < p->cp_argc; i++)
		CHECK(p->cp_argv[i] != NULL &&
		    fuzz_in_buf(buf, n, p->cp_argv[i]), "argv[%d]", i);
	CHECK(p->cp_argv[p->cp_argc] == NULL, "argv not terminated");
	for (char **e = p->cp_envp; e != NULL && *e != NULL; e++, nenv++)
		CHECK(fuzz_in_buf(buf, n, *e), "envp[%zu]", nenv);
	CHECK((p->cp_entry == NULL) != (p->cp_path == NULL),
	    "entry and path");
	CHECK(p->cp_path == NULL || fuzz_in_buf(buf, n, p->cp_path), "path");
	CHECK(p->cp_cwd != NULL && fuzz_in_buf(buf, n, p->cp_cwd), "cwd");
	CHECK(p->cp_name != NULL && fuzz_in_buf(buf, n, p->cp_name), "name");
	CHECK(p->cp_nfds >= 0 && p->cp_nfds <= LIMIT_FD_TARGET_MAX + 1,
	    "nfds %d", p->cp_nfds);
	CHECK(p->cp_nrlimits >= 0 && p->cp_nrlimits <= CHILD_RLIMIT_MAX,
	    "nrlimits %d", p->cp_nrlimits);
	CHECK(p->cp_ngroups >= 0 && p->cp_ngroups <= CHILD_GROUPS_MAX,
	    "ngroups %d", p->cp_ngroups);
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++) {
		int fd = p->cp_fds[t];

		CHECK(fd == -1 || fd == FUZZ_KEEP_FD ||
		    (fd >= FUZZ_FD_BASE && (size_t)(fd - FUZZ_FD_BASE) < nfds &&
		    fds[fd - FUZZ_FD_BASE] == fd), "fd %d for %d", fd, t);
	}
	CHECK(p->cp_errfd == -1 && p->cp_cgroup_procs_fd == -1 &&
	    p->cp_shared_vm == 0 && p->cp_presetup == 0, "sender's fields");
	return nenv;
}

static int
fuzz_streq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Pack p again, unpack that, and compare. */
static void
fuzz_round_trip(const struct child_plan *p, size_t nenv, const int *fds,
    size_t nfds)
{
	struct child_plan	q, a, b;
	size_t			len;
	int			r;

	r = plan_pack(p, fds, nfds, FUZZ_KEEP_FD, fuzz_repack,
	    sizeof fuzz_repack, &len);
	/* Slots may share a string, which the repack copies once per slot:
	 * it may no longer fit. */
	if (r == -EMSGSIZE)
		return;
	CHECK(r == 0, "repack: %d", r);
	r = plan_unpack(fuzz_repack, len, fds, nfds, FUZZ_KEEP_FD, &q);
	CHECK(r == 0, "unpack of the repacked plan: %d", r);
	CHECK(q.cp_argc == p->cp_argc, "argc %d != %d", q.cp_argc,
	    p->cp_argc);
	for (int i = 0; i < p->cp_argc; i++)
		CHECK(fuzz_streq(q.cp_argv[i], p->cp_argv[i]), "argv[%d]", i);
	CHECK((q.cp_envp == NULL) == (p->cp_envp == NULL), "envp NULL");
	for (size_t i = 0; p->cp_envp != NULL && i <= nenv; i++)
		CHECK(fuzz_streq(q.cp_envp[i], p->cp_envp[i]), "envp[%zu]", i);
	CHECK(fuzz_streq(q.cp_path, p->cp_path) &&
	    fuzz_streq(q.cp_cwd, p->cp_cwd) &&
	    fuzz_streq(q.cp_name, p->cp_name), "path, cwd or name");
	/* Everything else is plain data and must come back byte for byte. */
	a = *p;
	b = q;
	a.cp_argv = b.cp_argv = NULL;
	a.cp_envp = b.cp_envp = NULL;
	a.cp_path = b.cp_path = a.cp_cwd = b.cp_cwd = NULL;
	a.cp_name = b.cp_name = NULL;
	CHECK(memcmp(&a, &b, sizeof a) == 0, "fields differ");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct child_plan	 p;
	unsigned char		*buf;
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds, n, nenv;
	int			 r;

	if (size < 1 || size - 1 > WIRE_FRAME_HARD_MAX)
		return -1;
	nfds = (size_t)(data[0] & 0x1f) % (WIRE_MAX_FDS + 1);
	for (size_t i = 0; i < nfds; i++)
		fds[i] = FUZZ_FD_BASE + (int)i;
	n = size - 1;
	/* Exactly n bytes (malloc's alignment is the plan's). */
	if ((buf = malloc(n > 0 ? n : 1)) == NULL)
		abort();
	memcpy(buf, data + 1, n);
	memset(&p, 0xa5, sizeof p);
	r = plan_unpack(buf, n, fds, nfds, FUZZ_KEEP_FD, &p);
	if (r == 0) {
		nenv = fuzz_check(buf, n, fds, nfds, &p);
		fuzz_round_trip(&p, nenv, fds, nfds);
	} else
		CHECK(r == -EBADMSG, "unpack: %d", r);
	free(buf);
	return 0;
}

/* Write seed i (0, 1, 2) to dir: 0 on success, -1 when there is none. */
static int
fuzz_write_seed(const char *dir, int i)
{
	static char		*argv0[] = { "noop", NULL };
	static char		*argv1[] = { "/bin/echo", "-n", "x", NULL };
	static char		*envp1[] = { "PATH=/usr/bin:/bin", "LANG=C", NULL };
	static const int	 msgfds[] = { FUZZ_FD_BASE, FUZZ_FD_BASE + 1 };
	static unsigned char	 out[WIRE_FRAME_HARD_MAX]
	    __attribute__((aligned(16)));
	struct child_plan	 p;
	unsigned char		 nfds;
	char			 path[4096];
	size_t			 len;
	int			 fd;

	memset(&p, 0, sizeof p);
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
		p.cp_fds[t] = -1;
	p.cp_errfd = p.cp_cgroup_procs_fd = -1;
	p.cp_umask = -1;
	p.cp_cwd = "/";
	switch (i) {
	case 0:		/* a module entry, stdio on /dev/null */
		p.cp_entry = (const void *)(uintptr_t)0x1000;
		p.cp_argv = argv0;
		p.cp_argc = 1;
		p.cp_name = "noop-1";
		p.cp_fds[0] = p.cp_fds[1] = p.cp_fds[2] = FUZZ_KEEP_FD;
		p.cp_nfds = 3;
		nfds = 0;
		break;
	case 1:		/* an exec with an environment and two fds */
		p.cp_path = argv1[0];
		p.cp_argv = argv1;
		p.cp_argc = 3;
		p.cp_envp = envp1;
		p.cp_cwd = "/tmp";
		p.cp_name = "echo-2";
		p.cp_fds[0] = FUZZ_KEEP_FD;
		p.cp_fds[1] = msgfds[0];
		p.cp_fds[2] = msgfds[1];
		p.cp_nfds = 3;
		nfds = 2;
		break;
	case 2:		/* limits, identity and groups set */
		p.cp_path = argv1[0];
		p.cp_argv = argv1;
		p.cp_argc = 3;
		p.cp_name = "echo-3";
		p.cp_fds[5] = msgfds[0];
		p.cp_nfds = 6;
		p.cp_nrlimits = 1;
		p.cp_rlimits[0].resource = 7;
		p.cp_rlimits[0].soft = p.cp_rlimits[0].hard = 64;
		p.cp_identity = 1;
		p.cp_uid = p.cp_gid = 1000;
		p.cp_ngroups = 2;
		p.cp_groups[0] = 1000;
		p.cp_groups[1] = 27;
		p.cp_no_new_privs = p.cp_drop_caps = 1;
		nfds = 1;
		break;
	default:
		return -1;
	}
	if (plan_pack(&p, msgfds, nfds, FUZZ_KEEP_FD, out, sizeof out,
	    &len) != 0)
		abort();
	snprintf(path, sizeof path, "%s/seed-%d", dir, i);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    write(fd, &nfds, 1) != 1 || write(fd, out, len) != (ssize_t)len ||
	    close(fd) != 0) {
		perror(path);
		exit(1);
	}
	return 0;
}

/* FORKD_FUZZ_PLAN_SEEDS=DIR: write the seed corpus (packed by this build's
 * plan_pack(), so it follows struct child_plan) to DIR and exit. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FORKD_FUZZ_PLAN_SEEDS");

	(void)argc;
	(void)argv;
	if (dir == NULL)
		return 0;
	for (int i = 0; fuzz_write_seed(dir, i) == 0; i++)
		;
	exit(0);
}
