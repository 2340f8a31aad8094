/* cmd-keygen.c: forkctl keygen: write a new random key file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"
#include "forkctl.h"

#define KEYGEN_BYTES	32
#define KEYGEN_TRIES	100

static const struct option cmd_keygen_longopts[] = {
	{ "force",	no_argument,	NULL,	'f' },
	{ NULL,		0,		NULL,	0 }
};

/* Check that the directory that will hold path exists. */
static int
cmd_keygen_check_dir(const char *path)
{
	struct stat	 st;
	char		*copy, *dir;
	int		 r = 0;

	copy = strdup(path);
	if (copy == NULL) {
		forkctl_warnx("out of memory");
		return FORKCTL_EXIT_ERROR;
	}
	dir = dirname(copy);
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			forkctl_warnx("keygen: directory %s does not exist; "
			    "create it first (mode 0700 if only forkd's user "
			    "should reach the key)", dir);
		else
			forkctl_warnx("keygen: %s: %s", dir, strerror(errno));
		r = FORKCTL_EXIT_ERROR;
	} else if (!S_ISDIR(st.st_mode)) {
		forkctl_warnx("keygen: %s is not a directory", dir);
		r = FORKCTL_EXIT_ERROR;
	}
	free(copy);
	return r;
}

/* --force replaces a key file, nothing else: not a device (/dev/null), a
 * FIFO, a socket, a directory or a symbolic link (rename() would put the
 * file in the link's place, not its target's). */
static int
cmd_keygen_check_replace(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		forkctl_warnx("keygen: %s: %s", path, strerror(errno));
		return FORKCTL_EXIT_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		forkctl_warnx("keygen: %s is not a regular file; not replacing "
		    "it", path);
		return FORKCTL_EXIT_ERROR;
	}
	return 0;
}

/* Flush the directory entry of path to disk (best effort). */
static void
cmd_keygen_sync_dir(const char *path)
{
	char	*copy;
	int	 fd;

	copy = strdup(path);
	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Replace path with a new key: write a temporary file, then rename it. */
static int
cmd_keygen_replace(const char *path)
{
	char	*tmp = NULL;
	int	 r = -EEXIST;

	for (int i = 0; i < KEYGEN_TRIES && r == -EEXIST; i++) {
		free(tmp);
		if (asprintf(&tmp, "%s.tmp%08x", path,
		    (unsigned)randombytes_random()) < 0)
			return -ENOMEM;
		r = auth_key_generate(tmp, KEYGEN_BYTES);
	}
	if (r == 0 && rename(tmp, path) != 0) {
		r = -errno;
		unlink(tmp);
	}
	free(tmp);
	return r;
}

/* forkctl keygen [--force] [FILE] */
static int
cmd_keygen_exec(struct forkctl *fc, struct args *a)
{
	const char	*path;
	struct json	 j;
	int		 r;

	path = a->a_argc > 0 ? a->a_argv[0] : forkctl_key_path(fc);
	if (path[0] == '\0')
		return forkctl_usage_error(fc->fc_cmd, "empty file name");
	/* Elsewhere "-" is standard output; a key is written only to a
	 * 0600 file, so rather than a file named "-", an error. */
	if (strcmp(path, "-") == 0)
		return forkctl_usage_error(fc->fc_cmd, "a key is not written "
		    "to standard output; for a file named '-', say ./-");
	if (sodium_init() < 0) {
		forkctl_warnx("cannot initialise libsodium");
		return FORKCTL_EXIT_ERROR;
	}
	if ((r = cmd_keygen_check_dir(path)) != 0)
		return r;
	if (args_has(a, 'f')) {
		if ((r = cmd_keygen_check_replace(path)) != 0)
			return r;
		r = cmd_keygen_replace(path);
	} else
		r = auth_key_generate(path, KEYGEN_BYTES);
	if (r == -EEXIST) {
		forkctl_warnx("keygen: %s already exists; not replacing it "
		    "(use --force to replace it; every client and forkd then "
		    "need the new key)", path);
		return FORKCTL_EXIT_ERROR;
	}
	if (r < 0)
		return forkctl_error(fc, r, "keygen: %s", path);
	cmd_keygen_sync_dir(path);

	if (fc->fc_json) {
		json_init(&j, stdout);
		json_obj_begin(&j);
		json_key(&j, "path");
		json_str(&j, path);
		json_key(&j, "bytes");
		json_int(&j, KEYGEN_BYTES);
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
"Running clients keep their connections; new ones need the new key, and\n"
"forkd reads its key only at start-up, so restart it.\n"
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
