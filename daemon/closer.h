/* closer.h: fds that came from clients are closed off the event loop, in
 * a small process forked at start-up (see closer.c for why). */
#ifndef FORKD_CLOSER_H
#define FORKD_CLOSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Fork the closer and route wire_close_fds() to it. 0 or -errno. */
int	closer_start(void);
/* Take n fds (ownership passes); never blocks. wire_close_fds() calls it. */
void	closer_dispose(int *fds, size_t n);
/* forkd-closer's pid, or -1. */
pid_t	closer_pid(void);
/* Hand over what is left and close forkd's end (the closer exits). */
void	closer_stop(void);

#endif
