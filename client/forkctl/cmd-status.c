/* cmd-status.c: forkctl status: the daemon's version, counters, modules. */
#include <stdio.h>

#include "forkctl.h"

/* Status as JSON. */
static void
cmd_status_json(const struct forkd_status *st)
{
	struct json	j;

	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "version");
	json_str(&j, st->version);
	json_key(&j, "pid");
	json_int(&j, st->pid);
	json_key(&j, "uptime_ms");
	json_uint(&j, st->uptime_ms);
	json_key(&j, "children");
	json_uint(&j, st->children);
	json_key(&j, "connections");
	json_uint(&j, st->connections);
	json_key(&j, "spawned_total");
	json_uint(&j, st->spawned_total);
	json_key(&j, "spawn_failures");
	json_uint(&j, st->spawn_failures);
	json_key(&j, "exited_total");
	json_uint(&j, st->exited_total);
	json_key(&j, "auth_failures");
	json_uint(&j, st->auth_failures);
	json_key(&j, "protocol_errors");
	json_uint(&j, st->protocol_errors);
	json_key(&j, "pool_idle");
	json_uint(&j, st->pool_idle);
	json_key(&j, "pool_spawns");
	json_uint(&j, st->pool_spawns);
	json_key(&j, "modules");
	json_arr_begin(&j);
	for (size_t i = 0; i < st->n_modules; i++) {
		const struct forkd_module_desc *md = &st->modules[i];

		json_obj_begin(&j);
		json_key(&j, "name");
		json_str(&j, md->name);
		json_key(&j, "path");
		json_str(&j, md->path);
		json_key(&j, "description");
		json_str(&j, md->description);
		json_key(&j, "entries");
		json_arr_begin(&j);
		for (size_t k = 0; k < md->n_entries; k++)
			json_str(&j, md->entries[k]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

/* Status as text. */
static void
cmd_status_text(const struct forkd_status *st)
{
	char	up[32];

	forkctl_format_duration(st->uptime_ms, up, sizeof up);
	fputs("forkd ", stdout);
	forkctl_puts_safe(st->version, stdout);
	printf(", pid %ld, up %s\n", (long)st->pid, up);
	printf("children:        %u running\n", st->children);
	printf("connections:     %u\n", st->connections);
	printf("spawned:         %llu (%llu failed)\n",
	    (unsigned long long)st->spawned_total,
	    (unsigned long long)st->spawn_failures);
	printf("exited:          %llu\n", (unsigned long long)st->exited_total);
	printf("auth failures:   %llu\n", (unsigned long long)st->auth_failures);
	printf("protocol errors: %llu\n",
	    (unsigned long long)st->protocol_errors);
	printf("pool:            %u idle, %llu spawns served\n", st->pool_idle,
	    (unsigned long long)st->pool_spawns);
	printf("modules:         %zu\n", st->n_modules);
	for (size_t i = 0; i < st->n_modules; i++) {
		const struct forkd_module_desc *md = &st->modules[i];

		fputs("  ", stdout);
		forkctl_puts_safe(md->name, stdout);
		fputs("  ", stdout);
		forkctl_puts_safe(md->path, stdout);
		if (md->description[0] != '\0') {
			fputs("\n    ", stdout);
			forkctl_puts_safe(md->description, stdout);
		}
		fputs("\n    entries:", stdout);
		for (size_t k = 0; k < md->n_entries; k++) {
			fputc(' ', stdout);
			forkctl_puts_safe(md->name, stdout);
			fputc(':', stdout);
			forkctl_puts_safe(md->entries[k], stdout);
		}
		fputc('\n', stdout);
	}
}

/* Ask forkd for its status. */
static int
cmd_status_exec(struct forkctl *fc, struct args *a)
{
	struct forkd_status	*st = NULL;
	int			 r;

	if ((r = forkctl_connect(fc)) != 0)
		return r;
	r = forkd_status(fc->fc_conn, &st);
	if (r < 0)
		return forkctl_error(fc, r, "status");
	if (fc->fc_json)
		cmd_status_json(st);
	else
		cmd_status_text(st);
	forkd_status_free(st);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_status_entry = {
	.name = "status",
	.usage = "",
	.lower = 0,
	.upper = 0,
	.summary = "Show forkd's version, counters and modules",
	.help =
"Print forkd's version, pid and uptime; the number of running children and\n"
"open connections; how many children were spawned, failed to start and\n"
"exited; how many connections failed authentication or broke the protocol;\n"
"and every preloaded module with its path and entries, written as the\n"
"MODULE:ENTRY targets that 'forkctl spawn' accepts.\n"
"\n"
"With --json the same data is one JSON object: version, pid, uptime_ms,\n"
"children, connections, spawned_total, spawn_failures, exited_total,\n"
"auth_failures, protocol_errors, pool_idle, pool_spawns, and modules:\n"
"[{name, path, description, entries: [...]}].\n"
"\n"
"Examples:\n"
"  forkctl status\n"
"  forkctl status --json | jq '.modules[].name'\n",
	.exec = cmd_status_exec,
};
