/* cmd-ps.c: forkctl ps: list forkd's live children. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkctl.h"

/* Children as a JSON array. */
static void
cmd_ps_json(const struct forkd_child *v, size_t n, int64_t now)
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
		json_key(&j, "uid");
		json_uint(&j, v[i].owner_uid);
		json_key(&j, "started_unix_ms");
		json_uint(&j, v[i].started_unix_ms);
		json_key(&j, "age_ms");
		json_int(&j, now > (int64_t)v[i].started_unix_ms ?
		    now - (int64_t)v[i].started_unix_ms : 0);
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

/* Children as a table. */
static void
cmd_ps_text(const struct forkd_child *v, size_t n, int64_t now)
{
	int	wname = 4, wtarget = 6, len;
	char	age[32];

	for (size_t i = 0; i < n; i++) {
		if ((len = (int)strlen(v[i].name)) > wname)
			wname = len;
		if ((len = (int)strlen(v[i].target)) > wtarget)
			wtarget = len;
	}
	printf("%7s  %-*s  %-*s  %-6s  %6s  %s\n", "PID", wname, "NAME",
	    wtarget, "TARGET", "DAEMON", "UID", "AGE");
	for (size_t i = 0; i < n; i++) {
		forkctl_format_duration(now > (int64_t)v[i].started_unix_ms ?
		    (uint64_t)(now - (int64_t)v[i].started_unix_ms) : 0,
		    age, sizeof age);
		printf("%7ld  ", (long)v[i].pid);
		cmd_ps_cell(v[i].name, wname);
		fputs("  ", stdout);
		cmd_ps_cell(v[i].target, wtarget);
		printf("  %-6s  %6u  %s\n", v[i].daemon ? "yes" : "no",
		    (unsigned)v[i].owner_uid, age);
	}
}

/* List children. */
static int
cmd_ps_exec(struct forkctl *fc, struct args *a)
{
	struct forkd_child	*v = NULL;
	size_t			 n = 0;
	int			 r;

	if ((r = forkctl_connect(fc)) != 0)
		return r;
	r = forkd_list(fc->fc_conn, &v, &n);
	if (r < 0)
		return forkctl_error(fc, r, "ps");
	if (fc->fc_json)
		cmd_ps_json(v, n, forkctl_now_ms(1));
	else
		cmd_ps_text(v, n, forkctl_now_ms(1));
	free(v);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_ps_entry = {
	.name = "ps",
	.usage = "",
	.lower = 0,
	.upper = 0,
	.summary = "List running children",
	.help =
"List forkd's running children: every child when forkctl runs as root,\n"
"else the children of forkctl's uid. Columns:\n"
"\n"
"  PID     The child's process id.\n"
"  NAME    Its name (spawn --name, or chosen by forkd: ENTRY-N).\n"
"  TARGET  What it runs: MODULE:ENTRY or an executable path.\n"
"  DAEMON  \"yes\" if it is killed when the connection that spawned it\n"
"          closes (spawn --daemon).\n"
"  UID     The uid of the client that spawned it.\n"
"  AGE     Time since it started.\n"
"\n"
"With --json: an array of objects with pid, name, target, daemon, uid,\n"
"started_unix_ms and age_ms.\n"
"\n"
"Examples:\n"
"  forkctl ps\n"
"  forkctl ps --json | jq -r '.[] | select(.daemon) | .name'\n",
	.exec = cmd_ps_exec,
};
