/* test_wipe.c: a child that forkd forks itself (--pool 0 in the _nopool
 * run; with a pool of one, the pool child forkd forks itself where it has
 * no zygote, as in sanitizer builds, right after another client's request)
 * holds no copy of another client's earlier request: an --env secret is
 * searched for in the child's whole memory (testing:memscan reads
 * /proc/self/mem) (issue 13 item 7). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct harness	H;

/* A fresh secret of 40 letters. */
static void
make_secret(char *out, size_t len)
{
	unsigned char	r[40];
	int		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0 && len > sizeof r);
	assert_int_equal(read(fd, r, sizeof r), (ssize_t)sizeof r);
	close(fd);
	for (size_t i = 0; i < sizeof r; i++)
		out[i] = (char)('a' + r[i] % 26);
	out[sizeof r] = '\0';
}

/* Client a spawns target with the secret in its env (and a long argv, so
 * that its request is larger than the scanner's); client b's child then
 * scans its memory for it. */
static void
secret_not_inherited(const char *target)
{
	struct forkd		*a = harness_connect(&H);
	struct forkd		*b = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	char			 secret[64], envs[96], shifted[64];
	char			 pad[3000], out[8192];
	const char		*env[] = { envs, NULL };
	const char		*av[] = { target, pad, NULL };
	const char		*scan[] = { "testing:memscan", shifted, NULL };
	pid_t			 pid;
	int			 p[2];

	make_secret(secret, sizeof secret);
	snprintf(envs, sizeof envs, "FORKD_SECRET=%s", secret);
	for (size_t i = 0; i <= strlen(secret); i++)
		shifted[i] = secret[i] != '\0' ? (char)(secret[i] + 1) : '\0';
	memset(pad, 'p', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = av;
	o.env = env;
	EXPECT_OK(a, forkd_spawn(a, &o, &pid, NULL, 0));
	EXPECT_OK(a, forkd_wait_exit_event(a, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the secret holder's exit");
	/* Let the pool refill (20 ms after a pool child is taken): the new
	 * pool children are made while a's request is forkd's last frame. */
	harness_sleep_ms(300);

	harness_pipe(p);
	forkd_spawn_opts_init(&o);
	o.target = "testing:memscan";
	o.argv = scan;
	o.stdout_fd = p[1];
	EXPECT_OK(b, forkd_spawn(b, &o, &pid, NULL, 0));
	close(p[1]);
	(void)harness_read_all(p[0], out, sizeof out, 20000);
	close(p[0]);
	EXPECT_OK(b, forkd_wait_exit_event(b, 20000, &ev));
	if (ev.exitcode != 0)
		fail_msg("after %s with an env secret, another client's child "
		    "found it in its memory (exit %d):\n%s", target,
		    ev.exitcode, out);
	forkd_close(a);
	forkd_close(b);
}

/* The secret rode on a module entry's request. */
static void
test_after_module_spawn(void **state)
{
	secret_not_inherited("bench:noop");
}

/* The secret rode on an exec target's request. */
static void
test_after_exec_spawn(void **state)
{
	secret_not_inherited("/bin/true");
}

/* The scanner works: it finds a secret that is in its memory (its own
 * environment), so a 0 above means something. */
static void
test_scanner_finds(void **state)
{
	struct forkd		*b = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	char			 secret[64], envs[96], shifted[64];
	const char		*env[] = { envs, NULL };
	const char		*scan[] = { "testing:memscan", shifted, NULL };
	pid_t			 pid;

	make_secret(secret, sizeof secret);
	snprintf(envs, sizeof envs, "FORKD_SECRET=%s", secret);
	for (size_t i = 0; i <= strlen(secret); i++)
		shifted[i] = secret[i] != '\0' ? (char)(secret[i] + 1) : '\0';
	forkd_spawn_opts_init(&o);
	o.target = "testing:memscan";
	o.argv = scan;
	o.env = env;
	EXPECT_OK(b, forkd_spawn(b, &o, &pid, NULL, 0));
	EXPECT_OK(b, forkd_wait_exit_event(b, 20000, &ev));
	if (ev.exitcode < 1)
		fail_msg("testing:memscan did not find a secret in its own "
		    "environment (exit %d)", ev.exitcode);
	forkd_close(b);
}

static int
group_setup(void **state)
{
	/* One pool child: the one b's scanner gets is the one forkd made
	 * after a's request (FORKD_TEST_POOL=0, the _nopool run: forks). */
	const char *extra[] = { "--pool", "1", NULL };

	(void)state;
	return harness_start(&H, getenv("FORKD_TEST_POOL") == NULL ? extra :
	    NULL);
}

static int
group_teardown(void **state)
{
	harness_stop_ok(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scanner_finds),
		cmocka_unit_test(test_after_module_spawn),
		cmocka_unit_test(test_after_exec_spawn),
	};

	return cmocka_run_group_tests_name("integration_wipe", tests,
	    group_setup, group_teardown);
}
