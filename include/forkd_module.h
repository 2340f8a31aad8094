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
 *	FORKD_MODULE_EXPORT const struct forkd_module forkd_module_info = {
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
 *
 * FORKD_MODULE_EXPORT keeps forkd_module_info visible when the module is
 * built with -fvisibility=hidden (CMake's C_VISIBILITY_PRESET hidden):
 * without it dlsym() cannot find the symbol and forkd refuses the module
 * as "not a forkd module". In C++ it also gives the symbol C linkage.
 *
 * The header compiles with -std=c11 -Wall -Wextra -Werror. The state
 * allocators below need the POSIX/Linux parts of <sys/mman.h> and
 * <unistd.h>: included first, under a strict -std=c11, it defines
 * _DEFAULT_SOURCE itself; included after a system header under a strict
 * -std=c11 without _DEFAULT_SOURCE or _GNU_SOURCE it stops with an
 * #error saying so (define FORKD_MODULE_NO_STATE_API to go without them).
 */
#ifndef FORKD_MODULE_H
#define FORKD_MODULE_H

/* Before any system header (glibc's <features.h> sets _FEATURES_H): under
 * a strict ISO mode, ask for the POSIX/Linux declarations the allocators
 * use. Too late once <features.h> ran; then the #error below explains. */
#if defined(__STRICT_ANSI__) && !defined(FORKD_MODULE_NO_STATE_API) && \
    !defined(_DEFAULT_SOURCE) && !defined(_GNU_SOURCE) && \
    !defined(_FEATURES_H)
#define _DEFAULT_SOURCE 1
#endif

#if defined(__GNUC__)
#define FORKD_MODULE_VISIBLE	__attribute__((visibility("default")))
#else
#define FORKD_MODULE_VISIBLE
#endif
#ifdef __cplusplus
#define FORKD_MODULE_EXPORT	extern "C" FORKD_MODULE_VISIBLE
#else
#define FORKD_MODULE_EXPORT	FORKD_MODULE_VISIBLE
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FORKD_MODULE_ABI_VERSION	1
#define FORKD_MODULE_SYMBOL		"forkd_module_info"
/* Optional second symbol: void forkd_module_pool_warm(void). See below. */
#define FORKD_MODULE_POOL_WARM_SYMBOL	"forkd_module_pool_warm"
/* Optional: int forkd_module_restricted(void). See below. */
#define FORKD_MODULE_RESTRICTED_SYMBOL	"forkd_module_restricted"
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
	 * NULL. Return 0 to go on. Any other value stops start-up (forkd
	 * exits 1); write a message to stderr first saying why. A negative
	 * errno-style code (-ENOENT, -EINVAL, ...) is shown with its text:
	 * "init failed: No such file or directory (returned -2)"; -1 and
	 * any other value are shown as the number: "init failed (returned
	 * -1)", never as errno 1 (EPERM). May be NULL. */
	int		(*init)(const char *opts);
	/* Terminated by an entry whose name is NULL. */
	const struct forkd_module_entry *entries;
};


/*
 * Optional: a module that restricts what its entries run.
 *
 *	FORKD_MODULE_EXPORT int forkd_module_restricted(void) { ... }
 *
 * Called once, after init. Nonzero says that the module's options limit
 * what a client may make its entries run (the python module's allow=):
 * forkd then checks each request's environment as under a policy that
 * restricts targets (allow_targets): names that change what a program
 * loads or runs (LD_*, PYTHON*, PATH, ...) are refused unless allow_env
 * names them exactly. Without it, such a module's limits could be undone
 * by the environment a client sends.
 */

/*
 * Optional: warming an idle pool child.
 *
 *	FORKD_MODULE_EXPORT void forkd_module_pool_warm(void) { ... }
 *
 * When a module exports FORKD_MODULE_POOL_WARM_SYMBOL, forkd calls it in
 * each pool child once, right after the child is forked from the warm
 * image and before it waits for a spawn. An entry's first writes to the
 * preloaded state are copy-on-write faults; a hook that makes them ahead
 * (madvise(MADV_POPULATE_WRITE) on the pages an entry is known to write,
 * say) takes them off the spawn's path. It costs each idle pool child the
 * memory it copies. It runs with forkd's identity, before any client's
 * fds or set-up, once per pool child (not with --pool 0); it must return
 * soon, must not block, and must not start threads or touch the network.
 * The python module uses it (modules/python).
 */

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
 * POSIX/Linux extensions of <sys/mman.h>: see the top of this file for
 * strict -std=c11 builds. FORKD_HAVE_STATE_API is 1 when they are here.
 */
#ifndef FORKD_MODULE_NO_STATE_API
#define FORKD_HAVE_STATE_API	1
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if !defined(MAP_ANONYMOUS) || !defined(MADV_HUGEPAGE)
#error "forkd_module.h: the state allocators need <sys/mman.h>'s Linux \
extensions, hidden by a strict -std=c11: include forkd_module.h before \
any system header, or build with -D_DEFAULT_SOURCE (or -std=gnu11), or \
define FORKD_MODULE_NO_STATE_API to go without the allocators"
#endif

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
