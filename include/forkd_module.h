/* forkd_module.h: the ABI a forkd preload module exports.
 *
 * A module is a shared object loaded by forkd at start-up with
 * dlopen(RTLD_NOW). It exports one symbol, FORKD_MODULE_SYMBOL, a
 * struct forkd_module. forkd checks abi_version, calls init() once in the
 * daemon (load the expensive state there), and later runs an entry in a
 * forked child: the entry's return value becomes the child's exit code.
 *
 *	static int hello(int argc, char **argv) { puts("hi"); return 0; }
 *	static const struct forkd_module_entry entries[] = {
 *		{ "hello", hello, "print hi" },
 *		{ NULL, NULL, NULL }
 *	};
 *	const struct forkd_module forkd_module_info = {
 *		.abi_version = FORKD_MODULE_ABI_VERSION,
 *		.name = "demo",
 *		.description = "demo module",
 *		.entries = entries,
 *	};
 *
 * Rules: init() runs before the event loop and must not leave threads
 * running (forkd refuses to start if it does: fork() with threads is
 * unsafe). An entry runs in a child whose stdio is the client's; it may use
 * stdio and malloc freely. Entries must not return negative values; the exit
 * code is (return value & 0xff).
 */
#ifndef FORKD_MODULE_H
#define FORKD_MODULE_H

#ifdef __cplusplus
extern "C" {
#endif

#define FORKD_MODULE_ABI_VERSION	1
#define FORKD_MODULE_SYMBOL		"forkd_module_info"
#define FORKD_MODULE_NAME_MAX		32
#define FORKD_MODULE_ENTRY_NAME_MAX	64

/* One named entry point of a module. */
struct forkd_module_entry {
	const char	*name;		/* [A-Za-z0-9_.-]+ */
	int		(*fn)(int argc, char **argv);
	const char	*help;		/* one line, may be NULL */
};

/* What forkd_module_info describes. */
struct forkd_module {
	unsigned int	 abi_version;	/* FORKD_MODULE_ABI_VERSION */
	const char	*name;		/* [A-Za-z0-9_.-]+, unique among modules */
	const char	*description;	/* one line, may be NULL */
	/* Called once in the daemon before it serves. opts is the text after
	 * the first ':' of the --module argument ("key=value,key=value"), or
	 * NULL. Return 0, or a negative errno-style code to stop start-up;
	 * write a message to stderr first saying why. May be NULL. */
	int		(*init)(const char *opts);
	/* Terminated by an entry whose name is NULL. */
	const struct forkd_module_entry *entries;
};


/*
 * Preloaded state that keeps fork() cheap.
 *
 * fork() copies the parent's page tables, so its cost grows with resident
 * private memory: about 28 ms for 1 GiB of 4 KiB pages here, against about
 * 3 ms for the same 1 GiB in 2 MiB pages or in a shared mapping. Allocate
 * large state with one of these instead of malloc():
 *
 *   forkd_state_alloc_private(len)
 *	Private, copy-on-write memory backed by transparent huge pages
 *	(MADV_HUGEPAGE, 2 MiB aligned): 512 times fewer page-table entries to
 *	copy. A child's write still copies only what it touches.
 *   forkd_state_alloc_shared(len, &fd) ... fill ... forkd_state_seal(p, len, fd)
 *	Read-only state in a memfd mapped shared: fork() copies no page-table
 *	entries for it at all. Sealed (F_SEAL_WRITE and friends) and mapped
 *	PROT_READ once filled, so no child can change what the others see.
 *
 * Both return NULL with errno set on failure, never MAP_FAILED. Free with
 * forkd_state_free(p, len) (rarely needed: state lives as long as forkd).
 * These are inline so modules need no symbol from forkd. They need the
 * POSIX/Linux extensions of <sys/mman.h>: with a strict -std=c11 define
 * _DEFAULT_SOURCE (or _GNU_SOURCE) first; otherwise they are left out.
 */
#if !defined(__STRICT_ANSI__) || defined(_DEFAULT_SOURCE) || \
    defined(_GNU_SOURCE)
#define FORKD_HAVE_STATE_API	1
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

/* Without _GNU_SOURCE glibc hides these; the values are the kernel ABI. */
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC		0x0001U
#define MFD_ALLOW_SEALING	0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS		1033
#define F_SEAL_SEAL		0x0001
#define F_SEAL_SHRINK		0x0002
#define F_SEAL_GROW		0x0004
#define F_SEAL_WRITE		0x0008
#endif

#define FORKD_STATE_ALIGN	((size_t)2 << 20)	/* a huge page */

/* Round len up to whole huge pages (0 stays 0). */
static inline size_t
forkd_state_round(size_t len)
{
	return (len + FORKD_STATE_ALIGN - 1) & ~(FORKD_STATE_ALIGN - 1);
}

/* Private copy-on-write state in transparent huge pages. */
static inline void *
forkd_state_alloc_private(size_t len)
{
	size_t		 size = forkd_state_round(len);
	unsigned char	*raw, *p;
	uintptr_t	 a;

	if (len == 0 || size < len || size + FORKD_STATE_ALIGN < size) {
		errno = EINVAL;
		return NULL;
	}
	raw = (unsigned char *)mmap(NULL, size + FORKD_STATE_ALIGN,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)raw + FORKD_STATE_ALIGN - 1) & ~(FORKD_STATE_ALIGN - 1);
	p = (unsigned char *)a;
	/* Trim the slack so the mapping is exactly [p, p + size). */
	if (p > raw)
		munmap(raw, (size_t)(p - raw));
	if (raw + FORKD_STATE_ALIGN > p)
		munmap(p + size, (size_t)(raw + FORKD_STATE_ALIGN - p));
	/* Advice only: without THP support this is ordinary memory. */
	(void)madvise(p, size, MADV_HUGEPAGE);
	return p;
}

/* Shared state to fill: a memfd mapped read-write. Seal it when done. */
static inline void *
forkd_state_alloc_shared(size_t len, int *ret_fd)
{
	size_t	 size = forkd_state_round(len);
	void	*p;
	int	 fd, e;

	if (len == 0 || size < len) {
		errno = EINVAL;
		return NULL;
	}
	fd = (int)syscall(SYS_memfd_create, "forkd-state",
	    MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)size) != 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	(void)madvise(p, size, MADV_HUGEPAGE);
	*ret_fd = fd;
	return p;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

/* Seal filled shared state and map it read-only; returns the new address
 * (the writable mapping at p is gone) and closes fd. */
static inline const void *
forkd_state_seal(void *p, size_t len, int fd)
{
	size_t	 size = forkd_state_round(len);
	void	*ro;
	int	 e;

	/* F_SEAL_WRITE needs every writable shared mapping gone first. */
	if (munmap(p, size) != 0)
		goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) != 0)
		goto fail;
	ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (ro == MAP_FAILED)
		goto fail;
	(void)madvise(ro, size, MADV_HUGEPAGE);
	close(fd);
	return ro;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

/* Unmap state from either allocator. */
static inline void
forkd_state_free(const void *p, size_t len)
{
	if (p != NULL && len > 0)
		munmap((void *)(uintptr_t)p, forkd_state_round(len));
}
#endif /* FORKD_HAVE_STATE_API */

#ifdef __cplusplus
}
#endif

#endif
