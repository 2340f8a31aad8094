/* policy.h: the [policy] checks: who may use forkd, which targets run. */
#ifndef FORKD_POLICY_H
#define FORKD_POLICY_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* Does s match pattern, where '*' matches any run of bytes? 1 or 0. */
int	policy_glob(const char *pattern, const char *s);
/* May uid use forkd at all (allow_uids)? 1 or 0. */
int	policy_uid_allowed(const struct config_policy *, uid_t);
/* May a client of uid ask for a child identity (allow_identity; never
 * set: nobody)? 1 or 0. forkd must also run as root (spawn.c checks). */
int	policy_identity_allowed(const struct config_policy *, uid_t);
/* May a spawn run the module target "MODULE:ENTRY" (allow_targets)? */
int	policy_target_allowed(const struct config_policy *,
	    const char *target);
/* Which rule let a spawn of target run, as text for the audit line, into
 * buf: "allow_targets PATTERN", "allow_exec_paths ENTRY" (exec_path, as
 * written), or what was unset. */
void	policy_allowed_by(const struct config_policy *, const char *target,
	    const char *exec_path, char *buf, size_t len);
/* Is path a listed file, or a file directly inside a listed directory
 * (allow_exec_paths; subdirectories do not count)? 1 or 0. */
int	policy_path_listed(const struct config_policy *, const char *path);
/* Decide on an exec target before fork, without touching the filesystem
 * (forkd's loop must not block on a hung mount): 0, or -EPERM with errbuf
 * saying why (path escaped) when allow_exec = no, or allow_exec_paths is
 * set and path has a "." or ".." component. With allow_exec_paths the
 * child then calls policy_exec_open(). */
int	policy_exec_check(const struct config_policy *, const char *path,
	    char *errbuf, size_t errlen);
/* In the child, async-signal-safe: open path O_PATH, resolve it (into buf,
 * PATH_MAX bytes) and check the result against allow_exec_paths. 0 with
 * *ret_fd (O_CLOEXEC) to execveat(); -EPERM when not allowed, whatever the
 * reason; -errno only when path as written is listed and names nothing. */
int	policy_exec_open(const struct config_policy *, const char *path,
	    char *buf, int *ret_fd);
/* The refusal message of allow_exec_paths for esc (an escaped path). */
void	policy_exec_refusal(const char *esc, char *errbuf, size_t errlen);
/* Is the variable name (len bytes) one that changes what an allowed
 * program loads or runs: the dynamic loader's (glibc's UNSECURE_ENVVARS
 * and every LD_*), an interpreter's (BASH_ENV, PYTHON*, PERL*, ...), PATH,
 * HOME? 1 or 0. */
int	policy_env_unsafe(const char *name, size_t len);
/* Does the policy restrict targets (allow_targets or allow_exec_paths),
 * or a module its own (policy_set_module_restricted())? Then unsafe names
 * are refused unless allow_env names them exactly. */
int	policy_env_restricted(const struct config_policy *);
/* A loaded module restricts what its entries run (the python module's
 * allow=): set once at start-up, after the modules are loaded. */
void	policy_set_module_restricted(int);
/* May a client set these n "NAME=VALUE" entries (allow_env, and the unsafe
 * names under a restricted policy)? 0, or -EPERM with errbuf naming the
 * first refused variable (escaped) and the setting to change. */
int	policy_env_check(const struct config_policy *, char *const *env,
	    size_t n, char *errbuf, size_t errlen);
/* Log the policy in force in one line; when says why ("start", "SIGHUP"). */
void	policy_log(const struct config_policy *, const char *when);

#endif
