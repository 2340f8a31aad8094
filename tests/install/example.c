/* example.c: the README's libforkd example, built by install_test.sh
 * against an installed forkd (keep the two identical). */
#include <stdio.h>
#include <unistd.h>
#include <forkd.h>

int
main(void)
{
	struct forkd		*fd;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ex;
	const char		*argv[] = { "leibniz", "0", "1000000", NULL };
	char			 name[FORKD_NAME_MAX + 1];
	pid_t			 pid;
	int			 r;

	/* NULL, NULL: $FORKD_SOCKET / $FORKD_KEY_FILE or the defaults. */
	if ((r = forkd_connect(&fd, NULL, NULL)) < 0) {
		fprintf(stderr, "connect: %s\n", forkd_strerror(r));
		return 1;
	}
	forkd_spawn_opts_init(&o);
	o.target = "pi:leibniz";
	o.argv = argv;
	o.stdout_fd = STDOUT_FILENO;		/* the child prints here */
	if ((r = forkd_spawn(fd, &o, &pid, name, sizeof name)) < 0) {
		fprintf(stderr, "spawn: %s (%s)\n", forkd_strerror(r),
		    forkd_errmsg(fd));
		forkd_close(fd);
		return 1;
	}
	if ((r = forkd_wait(fd, pid, NULL, FORKD_INFINITE, &ex)) == 0)
		printf("%s (pid %d) exited with %d\n", ex.name, (int)ex.pid,
		    ex.exitcode);
	forkd_close(fd);
	return r == 0 ? 0 : 1;
}
