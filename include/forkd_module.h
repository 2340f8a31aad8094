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

#ifdef __cplusplus
}
#endif

#endif
