/* cmd-ps.c: forkctl ps: list forkd's children, with -a the ended ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkctl.h"

static const struct option cmd_ps_longopts[] = {
	{ "all",	no_argument,		NULL,	'a' },
	{ NULL,		0,			NULL,	0 }
};

/* Children as a JSON array. */
static void
cmd_ps_json(const struct forkd_child *v, size_t n, int64_t now, int all)
{
	struct json	j;

	json_init(&j, stdout);
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(&j);
		json_key(&j, "pid");
		json_int(&j, v[i].pid);
		json_key(&j, "name");
		json_str(&j, v[i].name);
		json_key(&j, "target");
		json_str(&j, v[i].target);
		json_key(&j, "daemon");
		json_bool(&j, v[i].daemon);
		/* "uid" is the client's, as before; "client_uid" says so. */
		json_key(&j, "uid");
		json_uint(&j, v[i].owner_uid);
		json_key(&j, "client_uid");
		json_uint(&j, v[i].owner_uid);
		json_key(&j, "run_uid");
		json_uint(&j, v[i].run_uid);
		json_key(&j, "started_unix_ms");
		json_uint(&j, v[i].started_unix_ms);
		json_key(&j, "age_ms");
		json_int(&j, now > (int64_t)v[i].started_unix_ms ?
		    now - (int64_t)v[i].started_unix_ms : 0);
		if (all) {
			json_key(&j, "ended");
			json_bool(&j, v[i].ended);
		}
		if (v[i].ended) {
			json_key(&j, "exitcode");
			json_int(&j, v[i].exitcode);
			json_key(&j, "ended_unix_ms");
			json_uint(&j, v[i].ended_unix_ms);
			json_key(&j, "timed_out");
			json_bool(&j, v[i].timed_out);
			json_key(&j, "oom_killed");
			json_bool(&j, v[i].oom_killed);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_finish(&j);
}

/* Pad a column of text to width. */
static void
cmd_ps_cell(const char *s, int width)
{
	int	len = (int)strlen(s);

	forkctl_puts_safe(s, stdout);
	for (; len < width; len++)
		fputc(' ', stdout);
}

/* "running", "exited 3", "killed 9", plus a timeout or OOM note. */
static void
cmd_ps_state(const struct forkd_child *c, char *buf, size_t len)
{
	char	sig[32];

	if (!c->ended)
		snprintf(buf, len, "running");
	else if (c->exitcode < 0)
		snprintf(buf, len, "killed %s%s", signame_name(-c->exitcode,
		    sig, sizeof sig), c->timed_out ? " (timed out)" :
		    c->oom_killed ? " (OOM-killed)" : "");
	else
		snprintf(buf, len, "exited %d%s", c->exitcode, c->timed_out ?
		    " (timed out)" : c->oom_killed ? " (OOM-killed)" : "");
}

/* Children as a table. AGE is the time since the start; for an ended
 * child, how long ago it ended. */
static void
cmd_ps_text(const struct forkd_child *v, size_t n, int64_t now, int all)
{
	int		 wname = 4, wtarget = 6, wstate = 7, len;
	char		 age[32], state[64];
	uint64_t	 t;

	for (size_t i = 0; i < n; i++) {
		if ((len = (int)strlen(v[i].name)) > wname)
			wname = len;
		if ((len = (int)strlen(v[i].target)) > wtarget)
			wtarget = len;
		cmd_ps_state(&v[i], state, sizeof state);
		if ((len = (int)strlen(state)) > wstate)
			wstate = len;
	}
	printf("%7s  %-*s  %-*s  %-6s  %10s  %9s  ", "PID", wname, "NAME",
	    wtarget, "TARGET", "DAEMON", "CLIENT-UID", "CHILD-UID");
	if (all)
		printf("%-*s  ", wstate, "STATE");
	puts("AGE");
	for (size_t i = 0; i < n; i++) {
		t = v[i].ended ? v[i].ended_unix_ms : v[i].started_unix_ms;
		forkctl_format_duration(now > (int64_t)t ?
		    (uint64_t)(now - (int64_t)t) : 0, age, sizeof age);
		printf("%7ld  ", (long)v[i].pid);
		cmd_ps_cell(v[i].name, wname);
		fputs("  ", stdout);
		cmd_ps_cell(v[i].ended ? "-" : v[i].target, wtarget);
		printf("  %-6s  %10u  %9u  ", v[i].ended ? "-" :
		    v[i].daemon ? "yes" : "no", (unsigned)v[i].owner_uid,
		    (unsigned)v[i].run_uid);
		if (all) {
			cmd_ps_state(&v[i], state, sizeof state);
			printf("%-*s  ", wstate, state);
		}
		printf("%s%s\n", age, v[i].ended ? " ago" : "");
	}
}

/* List children. */
static int
cmd_ps_exec(struct forkctl *fc, struct args *a)
{
	struct forkd_child	*v = NULL;
	size_t			 n = 0;
	int			 r, all = args_has(a, 'a');

	if ((r = forkctl_connect(fc)) != 0)
		return r;
	r = forkd_list_ex(fc->fc_conn, all ? FORKD_LIST_ENDED : 0, &v, &n);
	if (r < 0)
		return forkctl_error(fc, r, "ps");
	if (fc->fc_json)
		cmd_ps_json(v, n, forkctl_now_ms(1), all);
	else
		cmd_ps_text(v, n, forkctl_now_ms(1), all);
	free(v);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_ps_entry = {
	.name = "ps",
	.usage = "[-a|--all]",
	.lower = 0,
	.upper = 0,
	.shortopts = "a",
	.longopts = cmd_ps_longopts,
	.summary = "List running children, with -a the ended ones too",
	.help =
"List forkd's running children: every child when forkctl runs as root,\n"
"else the children of forkctl's uid. Columns:\n"
"\n"
"  PID         The child's process id.\n"
"  NAME        Its name (spawn --name, or chosen by forkd: ENTRY-N).\n"
"  TARGET      What it runs: MODULE:ENTRY or an executable path.\n"
"  DAEMON      \"yes\" if it is killed when the connection that spawned\n"
"              it closes (spawn --daemon).\n"
"  CLIENT-UID  The uid of the client that spawned it (whose child it is:\n"
"              who may signal and wait for it).\n"
"  CHILD-UID   The uid the child runs as: forkd's own, or spawn --uid.\n"
"  AGE         Time since it started.\n"
"\n"
"Options:\n"
"  -a, --all    Also list the ended children that forkd remembers (its\n"
"               exit history, newest first, after the running ones), with\n"
"               a STATE column: \"running\", \"exited CODE\" or \"killed\n"
"               SIGNAL\", and \"(timed out)\" or \"(OOM-killed)\". For an\n"
"               ended child AGE is the time since it ended, and TARGET\n"
"               and DAEMON are \"-\" (the history does not keep them).\n"
"\n"
"With --json: an array of objects with pid, name, target, daemon, uid\n"
"(the client's, as client_uid), client_uid, run_uid, started_unix_ms and\n"
"age_ms; with --all also ended, and for an ended child exitcode,\n"
"ended_unix_ms, timed_out and oom_killed.\n"
"\n"
"Examples:\n"
"  forkctl ps\n"
"  forkctl ps -a\n"
"  forkctl ps --json | jq -r '.[] | select(.daemon) | .name'\n",
	.exec = cmd_ps_exec,
};
