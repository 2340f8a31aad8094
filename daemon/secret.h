/* secret.h: key memory, and wiping it in forked children. */
#ifndef FORKD_SECRET_H
#define FORKD_SECRET_H

#include <stddef.h>
#include <sys/queue.h>

/* One registered key region; the owner embeds it next to the key. */
struct secret {
	unsigned char		*sec_p;		/* sodium_malloc'd */
	size_t			 sec_len;
	int			 sec_mprotected; /* sodium_mprotect'ed: opened
						  * to wipe, closed after */
	LIST_ENTRY(secret)	 sec_entry;
};

/* Register a key region: mark its pages MADV_WIPEONFORK (read as zeroes
 * in fork() children), and remember it for secret_wipe_all() in case the
 * kernel refused. p NULL registers nothing. */
void	secret_register(struct secret *, void *p, size_t len,
	    int mprotected);
/* Forget a region before it is freed; an unregistered one is fine. */
void	secret_unregister(struct secret *);
/* In a forked child: wipe every registered key, touching nothing else
 * (no session, no event). Async-signal-safe; nothing to do when the
 * kernel wiped them at fork. */
void	secret_wipe_all(void);

#endif
