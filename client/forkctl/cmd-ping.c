/* cmd-ping.c: forkctl ping: one round trip to forkd. */
#include <stdio.h>
#include <time.h>

#include "forkctl.h"

/* Time one authenticated request/reply. */
static int
cmd_ping_exec(struct forkctl *fc, struct args *a)
{
	struct timespec	t0, t1;
	struct json	j;
	long long	us;
	int		r;

	if ((r = forkctl_connect(fc)) != 0)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = forkd_ping(fc->fc_conn);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0)
		return forkctl_error(fc, r, "ping");
	us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (fc->fc_json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "pong");
		json_bool(&j, 1);
		json_key(&j, "rtt_us");
		json_int(&j, us);
		json_obj_end(&j);
		json_finish(&j);
	} else
		printf("pong (%lld us)\n", us);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_ping_entry = {
	.name = "ping",
	.usage = "",
	.lower = 0,
	.upper = 0,
	.summary = "Check that forkd answers",
	.help =
"Connect and authenticate, send one request and print the time the\n"
"answer took: \"pong (N us)\". The time does not include connecting. Exit\n"
"status 0 means forkd is up and accepts the key.\n"
"\n"
"With --json: {pong: true, rtt_us}.\n"
"\n"
"Examples:\n"
"  forkctl ping\n"
"  until forkctl ping >/dev/null 2>&1; do sleep 0.1; done\n",
	.exec = cmd_ping_exec,
};
