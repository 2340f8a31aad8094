/* cmd-keygen.c: forkctl keygen: write a new random key file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "forkctl.h"

static const struct option cmd_keygen_longopts[] = {
	{ "force",	no_argument,	NULL,	'f' },
	{ NULL,		0,		NULL,	0 }
};

/* forkctl keygen [--force] [FILE] */
static int
cmd_keygen_exec(struct forkctl *fc, struct args *a)
{
	const char		*path;
	struct forkd_error	 err;
	struct json		 j;
	int			 r;

	path = a->a_argc > 0 ? a->a_argv[0] : forkctl_key_path(fc);
	if (path[0] == '\0')
		return forkctl_usage_error(fc->fc_cmd, "empty file name");
	/* Elsewhere "-" is standard output; a key is written only to a
	 * 0600 file, so rather than a file named "-", an error. */
	if (strcmp(path, "-") == 0)
		return forkctl_usage_error(fc->fc_cmd, "a key is not written "
		    "to standard output; for a file named '-', say ./-");
	/* libforkd checks the directory, replaces only a regular file,
	 * and writes a temporary file renamed over FILE. */
	r = forkd_key_generate(path, args_has(a, 'f') ? FORKD_KEY_REPLACE :
	    0, &err);
	if (r == -EEXIST) {
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "keygen: %s "
		    "already exists; not replacing it (use --force to replace "
		    "it; every client and forkd then need the new key)", path);
	}
	if (r < 0)
		return forkctl_fail(FORKCTL_EXIT_ERROR, r, "keygen: %s",
		    err.message);

	if (fc->fc_json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "path");
		json_str(&j, path);
		json_key(&j, "bytes");
		json_int(&j, FORKD_KEY_BYTES);
		json_obj_end(&j);
		json_finish(&j);
	} else
		printf("%s\n", path);
	return FORKCTL_EXIT_OK;
}

const struct forkctl_cmd cmd_keygen_entry = {
	.name = "keygen",
	.usage = "[-f|--force] [FILE]",
	.lower = 0,
	.upper = 1,
	.flags = 0,
	.shortopts = "f",
	.longopts = cmd_keygen_longopts,
	.summary = "Write a new random authentication key",
	.help =
"Write 32 random bytes from the system's CSPRNG to FILE, created with mode\n"
"0600, and print FILE. forkd and its clients must use the same key file.\n"
"FILE defaults to the -k option, else $FORKD_KEY_FILE, else\n"
FORKD_DEFAULT_KEY_FILE ". The directory must exist already. A key is\n"
"never written to standard output: FILE \"-\" is an error.\n"
"\n"
"An existing FILE is never overwritten unless --force is given; then the\n"
"new key is written to a temporary file in the same directory and renamed\n"
"over FILE, so FILE always holds a whole key. Only a regular file is\n"
"replaced: never a device (/dev/null), FIFO, directory or symbolic link.\n"
"Running clients keep their connections; new ones need the new key, which\n"
"forkd reads at start-up and again on SIGHUP (systemctl reload forkd).\n"
"\n"
"Whoever can read FILE can run any code as forkd's user: keep it owned\n"
"by that user and unreadable by others (forkd refuses a key file that is\n"
"group/world-writable or world-readable).\n"
"\n"
"Options:\n"
"  -f, --force        Replace FILE if it exists.\n"
"\n"
"With --json: {path, bytes}.\n"
"\n"
"Examples:\n"
"  forkctl keygen /etc/forkd/authkey\n"
"  forkctl -k ~/.forkd/key keygen --force\n",
	.exec = cmd_keygen_exec,
};
