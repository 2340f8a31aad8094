/* bindswap.c: an LD_PRELOAD shim for test_netsec that wins the race an
 * attacker with write access to the socket's directory would try to win:
 * right after forkd's bind() of an AF_UNIX path it moves the new socket
 * aside and puts a symlink to $FORKD_TEST_BINDSWAP_VICTIM in its place. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

int	bind(int, const struct sockaddr *, socklen_t);

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int		(*real)(int, const struct sockaddr *, socklen_t);
	const char	*victim = getenv("FORKD_TEST_BINDSWAP_VICTIM");
	char		 aside[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	int		 r;

	real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(
	    RTLD_NEXT, "bind");
	r = real(fd, sa, len);
	if (r == 0 && victim != NULL && sa->sa_family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)sa)->sun_path;

		snprintf(aside, sizeof aside, "%s.aside", path);
		if (rename(path, aside) != 0 || symlink(victim, path) != 0)
			abort();
	}
	return r;
}
