/* cmd-status.c: forkctl status: the daemon's version, counters, modules. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "forkctl.h"

/* An entry's help, "" when it has none (or forkd sent none). */
static const char *
cmd_status_help(const struct forkd_module_desc *md, size_t k)
{
	return md->entry_help != NULL && md->entry_help[k] != NULL ?
	    md->entry_help[k] : "";
}

/* One module as a JSON object. */
static void
cmd_status_json_module(struct json *j, const struct forkd_module_desc *md)
{
	json_obj_begin(j);
	json_key(j, "name");
	json_str(j, md->name);
	json_key(j, "path");
	json_str(j, md->path);
	json_key(j, "description");
	json_str(j, md->description);
	json_key(j, "entries");
	json_arr_begin(j);
	for (size_t k = 0; k < md->n_entries; k++)
		json_str(j, md->entries[k]);
	json_arr_end(j);
	json_key(j, "entry_help");
	json_obj_begin(j);
	for (size_t k = 0; k < md->n_entries; k++) {
		json_key(j, md->entries[k]);
		json_str(j, cmd_status_help(md, k));
	}
	json_obj_end(j);
	json_obj_end(j);
}

/* One module as text: name, path, description, an entry a line with its
 * help, in columns. */
static void
cmd_status_text_module(const struct forkd_module_desc *md)
{
	size_t	w = 0, len;

	fputs("  ", stdout);
	forkctl_puts_safe(md->name, stdout);
	fputs("  ", stdout);
	forkctl_puts_safe(md->path, stdout);
	fputc('\n', stdout);
	if (md->description[0] != '\0') {
		fputs("    ", stdout);
		forkctl_puts_safe(md->description, stdout);
		fputc('\n', stdout);
	}
	for (size_t k = 0; k < md->n_entries; k++) {
		len = strlen(md->name) + 1 + strlen(md->entries[k]);
		if (len > w)
			w = len;
	}
	for (size_t k = 0; k < md->n_entries; k++) {
		const char *help = cmd_status_help(md, k);

		fputs("    ", stdout);
		forkctl_puts_safe(md->name, stdout);
		fputc(':', stdout);
		forkctl_puts_safe(md->entries[k], stdout);
		if (help[0] != '\0') {
			len = strlen(md->name) + 1 + strlen(md->entries[k]);
			for (; len < w + 2; len++)
				fputc(' ', stdout);
			forkctl_puts_safe(help, stdout);
		}
		fputc('\n', stdout);
	}
}

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
	for (size_t i = 0; i < st->n_modules; i++)
		cmd_status_json_module(&j, &st->modules[i]);
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
	for (size_t i = 0; i < st->n_modules; i++)
		cmd_status_text_module(&st->modules[i]);
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
	if (a->a_argc == 1) {
		/* forkctl status MODULE: that module's entries. */
		const struct forkd_module_desc *md = NULL;
		struct json j;

		for (size_t i = 0; i < st->n_modules && md == NULL; i++) {
			if (strcmp(st->modules[i].name, a->a_argv[0]) == 0)
				md = &st->modules[i];
		}
		if (md == NULL) {
			char list[512];
			size_t off = 0;

			list[0] = '\0';
			for (size_t i = 0; i < st->n_modules &&
			    off < sizeof list; i++)
				off += (size_t)snprintf(list + off,
				    sizeof list - off, "%s%s", i > 0 ? ", " :
				    "", st->modules[i].name);
			forkd_status_free(st);
			return forkctl_fail(FORKCTL_EXIT_ERROR, -ENOENT,
			    "status: forkd has no module '%s' (loaded: %s)",
			    a->a_argv[0], off > 0 ? list : "none");
		}
		if (fc->fc_json) {
			json_init(&j, stdout);
			cmd_status_json_module(&j, md);
			json_finish(&j);
		} else
			cmd_status_text_module(md);
		forkd_status_free(st);
		return FORKCTL_EXIT_OK;
	}
	if (fc->fc_json)
		cmd_status_json(st);
	else
		cmd_status_text(st);
	forkd_status_free(st);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_status_entry = {
	.name = "status",
	.usage = "[MODULE]",
	.lower = 0,
	.upper = 1,
	.summary = "Show forkd's version, counters and modules",
	.help =
"Print forkd's version, pid and uptime; the number of running children and\n"
"open connections; how many children were spawned, failed to start and\n"
"exited; how many connections failed authentication or broke the protocol;\n"
"and every preloaded module with its path (resolved: absolute, no\n"
"symbolic links) and its entries, one a line, written as the MODULE:ENTRY\n"
"targets that 'forkctl spawn' accepts, each with its one-line help.\n"
"\n"
"With MODULE, show only that module: path, description, entries and\n"
"their help (an unknown MODULE is an error, exit status 125).\n"
"\n"
"With --json the same data is one JSON object: version, pid, uptime_ms,\n"
"children, connections, spawned_total, spawn_failures, exited_total,\n"
"auth_failures, protocol_errors, pool_idle, pool_spawns, and modules:\n"
"[{name, path, description, entries: [...], entry_help: {ENTRY: HELP}}];\n"
"with MODULE, just that module's object.\n"
"\n"
"Examples:\n"
"  forkctl status\n"
"  forkctl status bench\n"
"  forkctl status --json | jq '.modules[].name'\n"
"  forkctl status --json pi | jq -r '.entry_help.leibniz'\n",
	.exec = cmd_status_exec,
};
