/* secret.c: the registry of key memory (the authkey, the session keys),
 * marked to read as zeroes in fork() children, and wiped by hand there
 * when the kernel could not do it. */
#include <sys/mman.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "secret.h"

static LIST_HEAD(, secret) secret_list = LIST_HEAD_INITIALIZER(secret_list);
/* Some region could not be marked MADV_WIPEONFORK: children wipe by hand. */
static int			secret_by_hand;

/* Secret memory (sodium_malloc'd) reads as zeroes in every fork() child:
 * the kernel wipes it (MADV_WIPEONFORK, Linux 4.14), so a child neither
 * inherits a key nor spends a page fault and an mprotect() wiping one. */
static void
secret_wipeonfork(void *p, size_t len)
{
	long		pg = sysconf(_SC_PAGESIZE);
	uintptr_t	lo, hi;

	if (p == NULL || len == 0 || pg <= 0)
		return;
	lo = (uintptr_t)p & ~((uintptr_t)pg - 1);
	hi = ((uintptr_t)p + len + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	if (madvise((void *)lo, hi - lo, MADV_WIPEONFORK) != 0) {
		if (!secret_by_hand)
			log_debug("MADV_WIPEONFORK: %s; children wipe keys "
			    "themselves", strerror(errno));
		secret_by_hand = 1;
	}
}

/* Register a key region and mark it wipe-on-fork. */
void
secret_register(struct secret *sec, void *p, size_t len, int mprotected)
{
	sec->sec_p = p;
	sec->sec_len = len;
	sec->sec_mprotected = mprotected;
	if (p == NULL || len == 0) {
		sec->sec_p = NULL;
		return;
	}
	secret_wipeonfork(p, len);
	LIST_INSERT_HEAD(&secret_list, sec, sec_entry);
}

/* Forget a region (before its memory is freed). */
void
secret_unregister(struct secret *sec)
{
	if (sec->sec_p == NULL)
		return;
	LIST_REMOVE(sec, sec_entry);
	sec->sec_p = NULL;
	sec->sec_len = 0;
}

/* Wipe every registered key in a forked child; async-signal-safe. */
void
secret_wipe_all(void)
{
	struct secret *sec;

	if (!secret_by_hand)
		return;
	LIST_FOREACH(sec, &secret_list, sec_entry) {
		if (sec->sec_mprotected)
			sodium_mprotect_readwrite(sec->sec_p);
		sodium_memzero(sec->sec_p, sec->sec_len);
		if (sec->sec_mprotected)
			sodium_mprotect_noaccess(sec->sec_p);
	}
}
