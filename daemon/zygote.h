/* zygote.h: the pool's zygote, which makes pool children for forkd. */
#ifndef FORKD_ZYGOTE_H
#define FORKD_ZYGOTE_H

#include <sys/types.h>

/* Fork the zygote; -errno when there is none (ASan build, fork failed,
 * or given up on already): forkd then forks pool children itself. Each
 * child it makes runs child_main(its control socket, forkd's pid), which
 * must not return; forkd's end of each new child's socket goes to
 * adopt(pid, fd), which owns it from then on; off_cb() runs when the
 * zygote is given up on (the pool refills by forking). */
int	zygote_start(void (*child_main)(int, pid_t),
	    void (*adopt)(pid_t, int), void (*off_cb)(void));
/* Is the zygote there to ask? */
int	zygote_active(void);
/* Ask it for n more children. 0 or -errno. */
int	zygote_ask(unsigned int n);
/* Children asked of it and not yet arrived. */
unsigned int zygote_pending(void);
/* The pool is empty: wait a moment for the next child, or give up on a
 * zygote that has not answered for too long. */
void	zygote_wait_one(void);
/* Stop using it (dead, broken or stuck): log why, kill it. */
void	zygote_give_up(const char *why);
/* The reaper found pid: 1 if it was the zygote. */
int	zygote_reaped(pid_t pid, int wstatus);
/* The reaper found pid, a child forkd does not know: perhaps one the
 * zygote made whose message is not read yet (it is then not adopted). */
void	zygote_unknown_reaped(pid_t pid);
/* forkd stops: close the zygote's socket (it exits). */
void	zygote_stop(void);

#endif
