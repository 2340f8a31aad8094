/* hungfuse.c: a FUSE file system for test_netsec whose one file, /f,
 * opens fine but whose FLUSH (sent by every close() of an fd of it) gets
 * no answer for HUNGFUSE_HANG_MS (or until stdin is readable): the "file
 * on a hung mount" that a client can pass to forkd. Single-threaded, so
 * nothing else is answered meanwhile either.
 *
 *   hungfuse MOUNTPOINT     (foreground; exits when unmounted)
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int
hf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/f") == 0) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		return 0;
	}
	return -ENOENT;
}

static int
hf_open(const char *path, struct fuse_file_info *fi)
{
	return strcmp(path, "/f") == 0 ? 0 : -ENOENT;
}

static int
hf_flush(const char *path, struct fuse_file_info *fi)
{
	struct pollfd	pfd = { 0, POLLIN, 0 };
	const char	*ms = getenv("HUNGFUSE_HANG_MS");

	(void)poll(&pfd, 1, ms != NULL ? atoi(ms) : 3000);
	return 0;
}

static const struct fuse_operations hf_ops = {
	.getattr = hf_getattr,
	.open = hf_open,
	.flush = hf_flush,
};

int
main(int argc, char **argv)
{
	char *args[] = { argv[0], "-f", "-s", "-o", "auto_unmount", NULL,
	    NULL };

	if (argc != 2)
		return 2;
	args[5] = argv[1];
	return fuse_main(6, args, &hf_ops, NULL);
}
