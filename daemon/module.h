/* module.h: preloaded modules (dlopen'd at start-up). */
#ifndef FORKD_MODULE_INTERNAL_H
#define FORKD_MODULE_INTERNAL_H

#include <stddef.h>

#include "forkd_module.h"

struct module {
	char				*m_path;
	char				*m_opts;
	char				*m_realpath;	/* NULL: unknown */
	void				*m_handle;
	const struct forkd_module	*m_info;
	void				(*m_pool_warm)(void); /* or NULL */
	int				 m_restricted;	/* its own limits */
};

/* Load, check and init "PATH[:OPTS]". On error errbuf says why. */
int	module_load(const char *spec, char *errbuf, size_t errlen);
/* Find MODULE:ENTRY; returns the entry or NULL. */
const struct forkd_module_entry *module_find_entry(const char *module,
	    size_t modlen, const char *entry);
/* Is e an entry of a loaded module (the very pointer)? */
int	module_entry_known(const struct forkd_module_entry *e);
size_t	module_count(void);
/* In a new pool child: each module's forkd_module_pool_warm(), if any. */
void	module_pool_warm(void);
/* Does a loaded module restrict what its entries run
 * (forkd_module_restricted())? 1 or 0. */
int	module_any_restricted(void);
const struct module *module_get(size_t i);
/* Check that no thread besides the main one runs (fork safety). */
int	module_check_single_threaded(char *errbuf, size_t errlen);
void	module_unload_all(void);

#endif
