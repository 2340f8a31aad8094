/* module.c: loading preload modules and finding their entries. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forkd_limits.h"
#include "log.h"
#include "module.h"

static struct module	*modules;
static size_t		 n_modules;

/* A module or entry name: [A-Za-z0-9_.-]{1,max}. */
static int
module_name_ok(const char *s, size_t max)
{
	size_t	n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= max)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* Check what a module exports: its ABI version, its name (unused by the
 * modules loaded before) and its entries. 0, or -errno with errbuf. */
static int
module_check(const char *path, const struct forkd_module *info,
    char *errbuf, size_t errlen)
{
	if (info->abi_version != FORKD_MODULE_ABI_VERSION) {
		snprintf(errbuf, errlen, "module %s: ABI version %u, this forkd "
		    "speaks %u: rebuild the module against this forkd_module.h",
		    path, info->abi_version, FORKD_MODULE_ABI_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (!module_name_ok(info->name, FORKD_MODULE_NAME_MAX)) {
		snprintf(errbuf, errlen, "module %s: invalid module name",
		    path);
		return -EINVAL;
	}
	for (size_t i = 0; i < n_modules; i++) {
		if (strcmp(modules[i].m_info->name, info->name) == 0) {
			snprintf(errbuf, errlen, "module %s: name '%s' already "
			    "used by %s", path, info->name,
			    modules[i].m_path);
			return -EEXIST;
		}
	}
	if (info->entries == NULL || info->entries[0].name == NULL) {
		snprintf(errbuf, errlen, "module %s (%s): no entries",
		    path, info->name);
		return -EINVAL;
	}
	for (const struct forkd_module_entry *e = info->entries;
	    e->name != NULL; e++) {
		if (!module_name_ok(e->name, FORKD_MODULE_ENTRY_NAME_MAX) ||
		    e->fn == NULL) {
			snprintf(errbuf, errlen, "module %s (%s): invalid entry",
			    path, info->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* A module's optional void (void) function, or NULL. dlsym() returns an
 * object pointer; POSIX makes it convertible to a function pointer, which
 * ISO C does not spell: copy the bits. */
static void
(*module_sym_fn(void *handle, const char *name))(void)
{
	void	*p = dlsym(handle, name);
	void	(*fn)(void) = NULL;

	if (p != NULL)
		memcpy(&fn, &p, sizeof fn);
	return fn;
}

/* The module's forkd_module_restricted(), called once (after its init):
 * 1 when it says it restricts what its entries run, else 0. */
static int
module_restricted(void *handle)
{
	void	*p = dlsym(handle, FORKD_MODULE_RESTRICTED_SYMBOL);
	int	(*fn)(void);

	if (p == NULL)
		return 0;
	memcpy(&fn, &p, sizeof fn);
	return fn() != 0;
}

/* Run a module's init (if it has one) with its options. 0, or -errno
 * with errbuf. */
static int
module_init(const struct module *m, const struct forkd_module *info,
    char *errbuf, size_t errlen)
{
	int r;

	if (info->init == NULL)
		return 0;
	fflush(NULL);
	r = info->init(m->m_opts);
	fflush(NULL);
	if (r == 0)
		return 0;
	/* -1 is a "failed" flag more often than -EPERM: only codes below it
	 * are read as -errno. */
	if (r < -1 && r > -4096) {
		snprintf(errbuf, errlen, "module %s (%s): init failed: %s "
		    "(returned %d)", m->m_path, info->name, strerror(-r), r);
		return r;
	}
	snprintf(errbuf, errlen, "module %s (%s): init failed (returned %d)",
	    m->m_path, info->name, r);
	return -EINVAL;
}

/* Load one module spec "PATH[:OPTS]" and run its init. */
int
module_load(const char *spec, char *errbuf, size_t errlen)
{
	const struct forkd_module	*info;
	struct module			 m = { 0 };
	struct module			*grown;
	const char			*colon;
	int				 r;

	colon = strchr(spec, ':');
	m.m_path = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
	m.m_opts = colon ? strdup(colon + 1) : NULL;
	if (m.m_path == NULL || (colon && m.m_opts == NULL)) {
		r = -ENOMEM;
		snprintf(errbuf, errlen, "module %s: out of memory", spec);
		goto fail;
	}
	if (strchr(m.m_path, '/') == NULL) {
		r = -EINVAL;
		snprintf(errbuf, errlen, "module %s: give a path (./%s), not a "
		    "bare name, so the library search path is not used",
		    m.m_path, m.m_path);
		goto fail;
	}
	m.m_handle = dlopen(m.m_path, RTLD_NOW | RTLD_LOCAL);
	if (m.m_handle == NULL) {
		r = -ENOENT;
		snprintf(errbuf, errlen, "module %s: %s", m.m_path, dlerror());
		goto fail;
	}
	info = dlsym(m.m_handle, FORKD_MODULE_SYMBOL);
	if (info == NULL) {
		r = -ENOENT;
		snprintf(errbuf, errlen, "module %s: no '%s' symbol: not a "
		    "forkd module (built with -fvisibility=hidden? declare it "
		    "FORKD_MODULE_EXPORT, from forkd_module.h, so it is "
		    "exported)", m.m_path, FORKD_MODULE_SYMBOL);
		goto fail;
	}
	if ((r = module_check(m.m_path, info, errbuf, errlen)) != 0 ||
	    (r = module_init(&m, info, errbuf, errlen)) != 0)
		goto fail;
	m.m_info = info;
	m.m_pool_warm = module_sym_fn(m.m_handle,
	    FORKD_MODULE_POOL_WARM_SYMBOL);
	m.m_restricted = module_restricted(m.m_handle);
	/* The resolved path, for status replies (resolved here, at start-up,
	 * so that no request makes the loop walk a path). */
	m.m_realpath = realpath(m.m_path, NULL);
	grown = reallocarray(modules, n_modules + 1, sizeof *modules);
	if (grown == NULL) {
		r = -ENOMEM;
		snprintf(errbuf, errlen, "module %s: out of memory", m.m_path);
		goto fail;
	}
	modules = grown;
	modules[n_modules++] = m;
	log_info("module %s loaded from %s", info->name, m.m_path);
	return 0;
fail:
	if (m.m_handle != NULL)
		dlclose(m.m_handle);
	free(m.m_path);
	free(m.m_opts);
	free(m.m_realpath);
	return r;
}

/* Find an entry of a loaded module. */
const struct forkd_module_entry *
module_find_entry(const char *module, size_t modlen, const char *entry)
{
	for (size_t i = 0; i < n_modules; i++) {
		const struct forkd_module *info = modules[i].m_info;

		if (strlen(info->name) != modlen ||
		    memcmp(info->name, module, modlen) != 0)
			continue;
		for (const struct forkd_module_entry *e = info->entries;
		    e->name != NULL; e++)
			if (strcmp(e->name, entry) == 0)
				return e;
		return NULL;
	}
	return NULL;
}

int
module_entry_known(const struct forkd_module_entry *e)
{
	for (size_t i = 0; i < n_modules; i++)
		for (const struct forkd_module_entry *m =
		    modules[i].m_info->entries; m->name != NULL; m++)
			if (m == e)
				return 1;
	return 0;
}

size_t
module_count(void)
{
	return n_modules;
}

void
module_pool_warm(void)
{
	for (size_t i = 0; i < n_modules; i++)
		if (modules[i].m_pool_warm != NULL)
			modules[i].m_pool_warm();
}

int
module_any_restricted(void)
{
	for (size_t i = 0; i < n_modules; i++)
		if (modules[i].m_restricted)
			return 1;
	return 0;
}

const struct module *
module_get(size_t i)
{
	return i < n_modules ? &modules[i] : NULL;
}

/* Refuse to serve with more than one thread: fork() would copy held locks. */
int
module_check_single_threaded(char *errbuf, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/task")) == NULL)
		return 0;	/* no /proc: cannot check, do not refuse */
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	if (n > 1) {
		snprintf(errbuf, errlen, "%d threads are running after loading "
		    "modules; a module's init left a thread behind, and fork() "
		    "with threads is unsafe", n);
		return -EDEADLK;
	}
	return 0;
}

/* dlclose every module (at exit, for leak checkers). */
void
module_unload_all(void)
{
	for (size_t i = 0; i < n_modules; i++) {
		dlclose(modules[i].m_handle);
		free(modules[i].m_path);
		free(modules[i].m_opts);
		free(modules[i].m_realpath);
	}
	free(modules);
	modules = NULL;
	n_modules = 0;
}
