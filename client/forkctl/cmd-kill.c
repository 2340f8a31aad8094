/* cmd-kill.c: forkctl kill: send a signal to children. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "forkctl.h"

static const struct option cmd_kill_longopts[] = {
	{ "signal",	required_argument,	NULL,	's' },
	{ NULL,		0,			NULL,	0 }
};

/* Signal every child named on the command line. */
static int
cmd_kill_exec(struct forkctl *fc, struct args *a)
{
	const char	*spec = args_get(a, 's'), *name;
	struct json	 j;
	pid_t		 pid;
	char		 sname[32];
	int		 sig = SIGTERM, r, status = FORKCTL_EXIT_OK;

	if (spec != NULL && signame_parse(spec, &sig) < 0)
		return forkctl_usage_error(fc->fc_cmd, "unknown signal '%s'",
		    spec);
	for (int i = 0; i < a->a_argc; i++) {
		if (forkctl_parse_child(a->a_argv[i], &pid, &name) < 0)
			return forkctl_usage_error(fc->fc_cmd,
			    "'%s' is neither a pid nor a child name",
			    a->a_argv[i]);
	}
	if ((r = forkctl_connect(fc)) != 0)
		return r;
	if (fc->fc_json) {
		forkctl_json_error_defer();
		json_init(&j, stdout);
		json_arr_begin(&j);
	}
	for (int i = 0; i < a->a_argc; i++) {
		forkctl_parse_child(a->a_argv[i], &pid, &name);
		r = forkd_signal(fc->fc_conn, pid, name, sig);
		if (fc->fc_json) {
			json_obj_begin(&j);
			json_key(&j, "child");
			json_str(&j, a->a_argv[i]);
			json_key(&j, "signal");
			json_int(&j, sig);
			json_key(&j, "ok");
			json_bool(&j, r == 0);
			json_key(&j, "error");
			if (r == 0)
				json_null(&j);
			else
				json_str(&j, forkd_strerror(r));
			json_obj_end(&j);
		}
		if (r < 0) {
			forkctl_error(fc, r, "kill %s %s",
			    signame_name(sig, sname, sizeof sname),
			    a->a_argv[i]);
			status = FORKCTL_EXIT_ERROR;
			if (r == -ECONNRESET)
				break;
		}
	}
	if (fc->fc_json) {
		json_arr_end(&j);
		json_finish(&j);
		/* The first error's record, after the array. */
		forkctl_json_error_flush();
	}
	return status;
}

const struct forkctl_cmd cmd_kill_entry = {
	.name = "kill",
	.usage = "[-s SIGNAL | -SIGNAL] PID|NAME...",
	.lower = 1,
	.upper = -1,
	.flags = CMD_DASHSIG,
	.shortopts = "s:",
	.longopts = cmd_kill_longopts,
	.summary = "Send a signal to children",
	.help =
"Ask forkd to send SIGNAL (default SIGTERM) to each child, given by pid\n"
"(all digits) or by name. A user other than root may signal only the\n"
"children of its own uid. Nothing is printed on success; every failure\n"
"is reported and makes the exit status 125, but the other children are\n"
"still signalled.\n"
"\n"
"SIGNAL is a name with or without the SIG prefix, in any case (TERM,\n"
"SIGKILL, hup, RTMIN+1), or a number (9). '-9' and '-KILL' as the first\n"
"argument are short for '-s 9' and '-s KILL'.\n"
"\n"
"Options:\n"
"  -s, --signal SIGNAL  The signal to send. Here -s is not the socket\n"
"                       option: use --socket PATH, or -s PATH before 'kill'.\n"
"\n"
"With --json: an array of {child, signal, ok, error} objects.\n"
"\n"
"Examples:\n"
"  forkctl kill worker-1\n"
"  forkctl kill -s KILL 12345 12346\n"
"  forkctl kill -HUP leibniz-3\n",
	.exec = cmd_kill_exec,
};
