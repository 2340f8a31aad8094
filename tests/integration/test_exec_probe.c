/* test_exec_probe.c: with allow_exec_paths, a client cannot tell by the
 * error what exists outside the allowed places (issue 13 item 6). Every
 * refusal, whether forkd gives it in its loop ("." and ".." paths) or the
 * child gives it after resolving the path, is the same EPERM with the same
 * words; only the path in it differs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"

#define PBUF	512

static struct harness	H;

/* Spawn target; must be refused with EPERM. Returns forkd's message with
 * the target replaced by "PATH". */
static void
refusal(struct forkd *f, const char *target, char *out, size_t outlen)
{
	struct forkd_spawn_opts	o;
	const char		*msg, *at;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	msg = forkd_errmsg(f);
	if (r != -EPERM)
		fail_msg("spawn %s: %d (%s) \"%s\", expected EPERM", target, r,
		    forkd_strerror(r), msg);
	if ((at = strstr(msg, target)) == NULL)
		fail_msg("spawn %s: message \"%s\" does not name it", target,
		    msg);
	snprintf(out, outlen, "%.*sPATH%s", (int)(at - msg), msg,
	    at + strlen(target));
}

/* Symlinks to an existing and a missing file outside, ".." through an
 * existing and a missing directory, a file outside: one answer. */
static void
test_one_refusal(void **state)
{
	char		 dir[64], conf[PBUF], p[6][PBUF], got[6][PBUF];
	char		 policy[PBUF * 2];
	const char	*extra[] = { "-c", conf, NULL };
	struct forkd	*f;
	FILE		*fp;

	(void)state;
	/* A config in a fresh temp dir of our own. */
	snprintf(dir, sizeof dir, "%s", "/tmp/forkd-probe.XXXXXX");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(conf, sizeof conf, "%s/forkd.conf", dir);
	snprintf(p[0], PBUF, "%s/allowed", dir);
	if (mkdir(p[0], 0755) != 0)
		fail_msg("mkdir: %s", strerror(errno));
	snprintf(policy, sizeof policy, "[policy]\nallow_exec = yes\n"
	    "allow_exec_paths = %s/\n", p[0]);
	if ((fp = fopen(conf, "w")) == NULL)
		fail_msg("fopen %s: %s", conf, strerror(errno));
	fputs(policy, fp);
	fclose(fp);
	snprintf(p[1], PBUF, "%s/allowed/to-existing", dir);
	snprintf(p[2], PBUF, "%s/allowed/to-missing", dir);
	if (symlink("/bin/sh", p[1]) != 0 ||
	    symlink("/no/such/dir/prog", p[2]) != 0)
		fail_msg("symlink: %s", strerror(errno));
	snprintf(p[3], PBUF, "%s/allowed/../allowed/to-existing", dir);
	snprintf(p[4], PBUF, "%s/allowed/../no-such-dir/../allowed/x", dir);
	snprintf(p[5], PBUF, "%s/outside", dir);
	snprintf(p[0], PBUF, "/bin/sh");

	if (harness_start(&H, extra) != 0)
		fail_msg("forkd did not start with %s", conf);
	f = harness_connect(&H);
	for (int i = 0; i < 6; i++) {
		refusal(f, p[i], got[i], PBUF);
		if (i > 0 && strcmp(got[i], got[0]) != 0)
			fail_msg("refusals differ:\n  %s: \"%s\"\n  %s: \"%s\"",
			    p[0], got[0], p[i], got[i]);
	}
	EXPECT_STR(got[0], "exec target PATH is not in policy "
	    "allow_exec_paths", "the refusal");
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	harness_stop_ok(&H);
	unlink(conf);
	snprintf(policy, sizeof policy, "%s/allowed/to-existing", dir);
	unlink(policy);
	snprintf(policy, sizeof policy, "%s/allowed/to-missing", dir);
	unlink(policy);
	snprintf(policy, sizeof policy, "%s/allowed", dir);
	rmdir(policy);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
