/* forkd.h: libforkd, the client library of the forkd forkserver daemon.
 *
 * A struct forkd is one authenticated connection to forkd. Most calls are
 * synchronous: each sends one request and waits for its reply, queueing any
 * exit events that arrive meanwhile. For callers with their own event loop,
 * forkd_fd() gives a pollable fd; when it is readable call forkd_process()
 * and then collect exit events with forkd_next_exit() and the replies to
 * forkd_spawn_start(), forkd_wait_start() and forkd_signal_start() with
 * forkd_next_reply() (see "Requests without waiting" below;
 * examples/c/spawn_libevent.c).
 *
 * Errors: every function that can fail returns 0 (or a documented
 * non-negative value) on success and a negative errno-style code on failure;
 * forkd_strerror() describes a code, forkd_errmsg() gives the detail of the
 * last failure on a connection (e.g. the daemon's reason for a refused
 * spawn). -ECONNRESET means the daemon closed the connection; the handle is
 * then dead and only forkd_close() may be called.
 *
 * Thread safety: a struct forkd must not be used by two threads at once;
 * use one connection per thread or lock around calls. Distinct handles are
 * independent. The library never logs, never raises signals (it uses
 * MSG_NOSIGNAL), and allocates only what it returns or what a handle owns.
 *
 * Holding the authkey is holding the daemon's powers: whoever can read the
 * key file can run code as the daemon's user.
 */
#ifndef FORKD_H
#define FORKD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FORKD_LIB_VERSION		"0.2.0"
/* Used when the argument is NULL and the environment variable is unset. */
#define FORKD_DEFAULT_SOCKET		"/run/forkd/forkd.sock"
#define FORKD_DEFAULT_KEY_FILE		"/var/lib/forkd/authkey"
#define FORKD_ENV_SOCKET		"FORKD_SOCKET"
#define FORKD_ENV_KEY_FILE		"FORKD_KEY_FILE"
/* The wire protocol version this libforkd speaks (PROTOCOL.md). */
#define FORKD_PROTOCOL_VERSION		1

#define FORKD_NAME_MAX			64	/* bytes, without the NUL */
#define FORKD_TARGET_MAX		4096
#define FORKD_ERRMSG_MAX		256
/* Wait without a time limit. */
#define FORKD_INFINITE			(-1)

#if defined(__GNUC__)
#define FORKD_WUR __attribute__((warn_unused_result))
#else
#define FORKD_WUR
#endif

struct forkd;

/* What to start. Initialise with forkd_spawn_opts_init(), then set fields. */
struct forkd_spawn_opts {
	const char		*target;	/* "MODULE:ENTRY" or absolute path */
	const char *const	*argv;		/* NULL-terminated; NULL: { target } */
	const char *const	*env;		/* NULL-terminated "K=V"; may be NULL */
	int			 env_replace;	/* 1: env is the whole environment */
	const char		*cwd;		/* NULL: "/" */
	const char		*name;		/* NULL: daemon picks "<entry>-N" */
	int			 daemon;	/* 1: killed when this connection closes */
	int			 stdin_fd;	/* -1: /dev/null (the default) */
	int			 stdout_fd;
	int			 stderr_fd;

	/* Child set-up. forkd_spawn_opts_init() sets "inherit / none" for
	 * all of these; the child runs them in the order listed in the README
	 * ("Child set-up") and a failing step fails the spawn with its -errno
	 * and the step's name in forkd_errmsg(). Obviously bad values (the
	 * limits below, a NULL array with a non-zero count, unknown bits or
	 * enum values) are refused by libforkd with -EINVAL and a message
	 * before anything is sent. Arrays are only read during the call. */
	const struct forkd_rlimit *rlimits;	/* setrlimit() each; at most
						 * 16, one per resource */
	size_t			 n_rlimits;
	int			 umask;		/* -1: forkd's; else 0..0777 */
	int			 nice_set;	/* 1: setpriority(nice) */
	int			 nice;		/* -20..19 */
	const int		*cpus;		/* CPU affinity, each 0..1023,
						 * at most 1024; NULL: inherit
						 */
	size_t			 n_cpus;
	int			 pgroup;	/* FORKD_PGROUP_*; default
						 * SESSION */
	/* Wall-clock limit: SIGTERM to the child's process group after
	 * timeout_ms, SIGKILL kill_grace_ms later (0: 2000); the exit
	 * event then has timed_out set. 0: no limit. Both at most a week
	 * (LIMIT_TIMEOUT_MS_MAX); kill_grace_ms needs timeout_ms. */
	unsigned int		 timeout_ms;
	unsigned int		 kill_grace_ms;
	/* Identity: only when forkd runs as root and its policy lets this
	 * caller's uid ask (allow_identity); else the spawn fails -EPERM. */
	int			 identity_set;	/* 1: use uid, gid, groups */
	uid_t			 uid;		/* not (uid_t)-1 */
	gid_t			 gid;		/* not (gid_t)-1 */
	const gid_t		*groups;	/* supplementary, at most 64;
						 * none: NULL / 0 */
	size_t			 n_groups;
	int			 no_new_privs;	/* 1: PR_SET_NO_NEW_PRIVS */
	int			 drop_caps;	/* 1: drop every capability */
	/* cgroup v2: cgroup 1 gives the child a new cgroup of its own under
	 * forkd's cgroup root, with these limits (0: none; a limit with
	 * cgroup 0 is -EINVAL); the exit event then has oom_killed set when
	 * the memory limit killed it. -EOPNOTSUPP from forkd: no usable
	 * cgroup2 root, or a limit's controller is not enabled there. */
	int			 cgroup;
	uint64_t		 memory_max;	/* bytes */
	uint32_t		 pids_max;
	uint32_t		 cpu_quota_us;	/* cpu.max: quota per period,
						 * >= 1000 */
	uint32_t		 cpu_period_us;	/* 0: 100000; else 1000..10^6,
						 * needs a quota */
	unsigned int		 namespaces;	/* FORKD_NS_* ORed */
	int			 want_pidfd;	/* 1: get the child's pidfd
						 * (forkd_spawn_ex()) */
	/* More descriptors for the child beyond stdio: fds[i] (the caller's,
	 * only read during the call) becomes fd fd_targets[i] in the child,
	 * e.g. a result pipe at fd 3. Targets are 0..FORKD_FD_TARGET_MAX,
	 * distinct, and not one of 0/1/2 already set through stdin_fd,
	 * stdout_fd or stderr_fd; with stdio, at most FORKD_FDS_MAX fds in
	 * all. Bad values are -EINVAL (a bad fd -EBADF) before sending. */
	const int		*fds;
	const int		*fd_targets;
	size_t			 n_fds;
};
#define FORKD_FDS_MAX		16	/* fds in one spawn, stdio included */
#define FORKD_CPUS_MAX		1024	/* n_cpus at most */
#define FORKD_GROUPS_MAX	64	/* n_groups at most */
#define FORKD_TIMEOUT_MS_MAX	(7U * 24 * 3600 * 1000)	/* a week */
#define FORKD_WAIT_MAX		64	/* children in one forkd_wait_any() */
#define FORKD_FD_TARGET_MAX	63	/* highest fd number in the child */
#define FORKD_RLIMITS_MAX	16	/* n_rlimits at most; resource below it */
#define FORKD_CPU_NUMBER_MAX	1024	/* each of cpus below it (CPU_SETSIZE) */

/* One resource limit: resource is RLIMIT_* from <sys/resource.h> (0..15
 * on Linux); soft <= hard, either may be FORKD_RLIM_INFINITY. */
struct forkd_rlimit {
	int		resource;
	uint64_t	soft;
	uint64_t	hard;
};
#define FORKD_RLIM_INFINITY	UINT64_MAX	/* RLIM_INFINITY */

#define FORKD_PGROUP_SESSION	0	/* setsid(): own session (default) */
#define FORKD_PGROUP_GROUP	1	/* setpgid(): own group, forkd's session */

#define FORKD_NS_PID		0x01	/* pid in replies stays forkd's view */
#define FORKD_NS_MOUNT		0x02
#define FORKD_NS_NET		0x04
#define FORKD_NS_IPC		0x08
#define FORKD_NS_UTS		0x10
#define FORKD_NS_USER		0x20	/* maps the child's uid/gid to 0 */

/* What forkd_spawn_ex() returns. */
struct forkd_spawned {
	pid_t	pid;				/* as forkd sees it */
	char	name[FORKD_NAME_MAX + 1];
	/* The child's pidfd when want_pidfd was set (from CLONE_PIDFD, so it
	 * can never refer to another process), else -1. The caller owns it:
	 * poll() it for the exit (POLLIN), pidfd_send_signal() it, close()
	 * it. It is O_CLOEXEC. The exit status still comes from forkd
	 * (forkd_wait(), exit events). */
	int	pidfd;
	/* The child's cgroup, relative to the cgroup2 mount (as in
	 * /proc/PID/cgroup), when cgroup was set; else "". */
	char	cgroup[FORKD_TARGET_MAX + 1];
};

struct forkd_rusage {
	uint64_t	utime_us;
	uint64_t	stime_us;
	uint64_t	maxrss_kb;
};

/* How a child ended. exitcode follows Python: the exit status, or -N when
 * the child was killed by signal N. */
struct forkd_exit {
	pid_t			pid;
	char			name[FORKD_NAME_MAX + 1];
	int			exitcode;
	struct forkd_rusage	rusage;
	int			timed_out;	/* forkd killed it at timeout_ms */
	int			oom_killed;	/* its cgroup's memory limit did */
};

struct forkd_child {
	pid_t		pid;
	char		name[FORKD_NAME_MAX + 1];
	char		target[FORKD_TARGET_MAX + 1];
	int		daemon;
	uid_t		owner_uid;
	uint64_t	started_unix_ms;
	int		owned;		/* spawned by this connection */
	/* Since 0.2 (zero from an older forkd): */
	uid_t		run_uid;	/* uid the child runs (ran) as;
					 * owner_uid is the client's */
	int		ended;		/* an exit-history record
					 * (FORKD_LIST_ENDED) */
	int		exitcode;	/* with ended: as forkd_exit */
	uint64_t	ended_unix_ms;	/* with ended */
	int		timed_out;	/* with ended */
	int		oom_killed;	/* with ended */
};

struct forkd_module_desc {
	char		 *name;
	char		 *path;
	char		 *description;
	size_t		  n_entries;
	char		**entries;
	char		**entry_help;	/* n_entries one-line helps, "" for
					 * none (all "" from an older forkd) */
};

struct forkd_status {
	char			 version[32];
	pid_t			 pid;
	uint64_t		 uptime_ms;
	uint32_t		 children;
	uint32_t		 connections;
	uint64_t		 spawned_total;
	uint64_t		 spawn_failures;
	uint64_t		 exited_total;
	uint64_t		 auth_failures;
	uint64_t		 protocol_errors;
	uint32_t		 pool_idle;	/* pre-forked children waiting */
	uint64_t		 pool_spawns;	/* spawns served by the pool */
	size_t			 n_modules;
	struct forkd_module_desc *modules;
};

/* Connect and authenticate. socket_path NULL: $FORKD_SOCKET, else
 * FORKD_DEFAULT_SOCKET; key_file likewise with $FORKD_KEY_FILE. The key file
 * is read and wiped from memory after use. -EKEYREJECTED: wrong key (or the
 * daemon failed to prove it holds the same key). Connecting and the
 * handshake together give up after 10 s (-ETIMEDOUT). A socket path too
 * long for sun_path (108 bytes with the NUL) is -ENAMETOOLONG. On failure
 * *ret is untouched and there is no handle, hence no forkd_errmsg():
 * forkd_connect_ex() below says which step failed, on which file. */
int	forkd_connect(struct forkd **ret, const char *socket_path,
	    const char *key_file) FORKD_WUR;
/* As forkd_connect() with the key given in memory (keylen >= 32). */
int	forkd_connect_key(struct forkd **ret, const char *socket_path,
	    const void *key, size_t keylen) FORKD_WUR;

/* Where a call without a handle failed: forkd_connect_ex() and the key
 * functions fill a struct forkd_error (when given one) on failure. */
#define FORKD_STEP_NONE		0
#define FORKD_STEP_KEY		1	/* reading/checking/writing the key
					 * file (path: the key file) */
#define FORKD_STEP_SOCKET	2	/* the socket path itself: empty, too
					 * long, not a socket (path: it) */
#define FORKD_STEP_CONNECT	3	/* connect(): no socket, refused, no
					 * permission (path: the socket) */
#define FORKD_STEP_HANDSHAKE	4	/* authentication with forkd */
#define FORKD_STEP_MAX		5
#define FORKD_PATH_MAX		4096	/* bytes in forkd_error.path */
#define FORKD_ERROR_MAX		512	/* bytes in forkd_error.message */

struct forkd_error {
	int	code;			/* the -errno the call returned */
	int	step;			/* FORKD_STEP_* */
	char	path[FORKD_PATH_MAX + 1];	/* the file concerned, or "" */
	/* One line for a person, naming the file, what failed and, where
	 * known, the likely fix: "connect to /run/forkd/forkd.sock: No
	 * such file or directory (no socket there; is forkd running?)",
	 * "key file /k: permissions 0644 are too open ...". Control
	 * characters of paths are replaced by '?'. */
	char	message[FORKD_ERROR_MAX];
};
/* "key", "socket", "connect", "handshake" ("" for NONE, "?" otherwise). */
const char *forkd_step_name(int step);

/* forkd_connect() that explains a failure in *ret_err (may be NULL),
 * which is cleared (code 0, step NONE) on success. The steps in order:
 * KEY (the key file is read, not checked for its mode: see
 * forkd_key_check()), SOCKET, CONNECT, HANDSHAKE. A path that exists but
 * is not a socket is -ENOTSOCK at step SOCKET (connect() alone says
 * -ECONNREFUSED). */
int	forkd_connect_ex(struct forkd **ret, const char *socket_path,
	    const char *key_file, struct forkd_error *ret_err) FORKD_WUR;

/* Key files. A key is at least 32 random bytes; forkd and its clients
 * read the same file. path NULL: $FORKD_KEY_FILE, else
 * FORKD_DEFAULT_KEY_FILE. */
#define FORKD_KEY_BYTES		32	/* what forkd_key_generate() writes */
#define FORKD_KEY_REPLACE	0x1	/* generate: replace an existing key */
#define FORKD_KEY_CHECK_MODE	0x1	/* check: refuse the modes forkd
					 * refuses (group/world-writable,
					 * world-readable) */
#define FORKD_KEY_CHECK_OWNER	0x2	/* check: also owned by the caller's
					 * euid (forkd's own check of its key) */
/* Write a new key of FORKD_KEY_BYTES random bytes (libsodium's CSPRNG)
 * to path, mode 0600, fsync'd with its directory entry. An existing path
 * is -EEXIST unless FORKD_KEY_REPLACE; then only a regular file is
 * replaced (never a symbolic link, device or FIFO: -EINVAL), by writing a
 * temporary file beside it and renaming it over path, so path always
 * holds a whole key. A missing directory is -ENOENT. Unknown flags:
 * -EINVAL. */
int	forkd_key_generate(const char *path, unsigned int flags,
	    struct forkd_error *ret_err) FORKD_WUR;
/* Check that path holds a usable key: a regular file this process can
 * read, 32 to 4095 bytes, and with the FORKD_KEY_CHECK_* flags the modes
 * and owner forkd requires (-EPERM, with forkd's own message). Nothing of
 * the key is kept. */
int	forkd_key_check(const char *path, unsigned int flags,
	    struct forkd_error *ret_err) FORKD_WUR;

/* Every other call that asks the daemon (all but the waits, which add a
 * few seconds to their own timeout) gives up after 30 s without a reply
 * with -ETIMEDOUT; the handle stays usable and a late reply is dropped. */

/* Close the connection and free the handle. NULL is fine. Children spawned
 * with the daemon flag on this connection are then terminated by forkd. */
void	forkd_close(struct forkd *);

/* The connection's socket, for poll()/epoll/libevent (readable = frames). */
int	forkd_fd(const struct forkd *);
/* Detail of the last failure on this handle ("" if none). */
const char *forkd_errmsg(const struct forkd *);
/* Describe an error code from this library. Never NULL. */
const char *forkd_strerror(int err);

void	forkd_spawn_opts_init(struct forkd_spawn_opts *);
/* Start a child. On success *ret_pid is its pid and, if ret_name is not
 * NULL, its name is copied there (namelen bytes, NUL-terminated). A spawn
 * that fails before the target runs returns the failing step's -errno, with
 * the daemon's explanation in forkd_errmsg(). A request larger than forkd's
 * max_frame, or than the socket takes in one datagram (about 208 KiB with
 * the default SO_SNDBUF), is -EMSGSIZE before anything is sent; the
 * connection stays usable. */
int	forkd_spawn(struct forkd *, const struct forkd_spawn_opts *,
	    pid_t *ret_pid, char *ret_name, size_t namelen) FORKD_WUR;
/* forkd_spawn() returning everything the daemon replied, including the
 * pidfd (-1 unless opts->want_pidfd) and the cgroup; *ret is untouched on
 * failure. A forkd that does not pass pidfds gives pidfd -1 even with
 * want_pidfd, and so does a caller at its open files limit, which could
 * not take the pidfd (the child runs; the spawn succeeded: its exit
 * still comes from forkd). libforkd accepts an fd only as the single fd of a spawn
 * reply that announces it, after want_pidfd; an fd on any other frame is
 * closed at once, and a spawn reply with an unannounced or extra fd is a
 * protocol error (-EBADMSG, the handle is dead). forkd_spawn() is this
 * with the pidfd closed. */
int	forkd_spawn_ex(struct forkd *, const struct forkd_spawn_opts *,
	    struct forkd_spawned *ret) FORKD_WUR;

/* Send signal sig to a child, by pid (name NULL) or by name (pid 0).
 * Names are per uid: a name means the caller's own child of that name,
 * live, else its newest ended one (-ESRCH "has ended"). Root, without a
 * child of that name, gets the only other uid's live child of that name
 * (several: -EINVAL), else the newest ended one of any uid. -ESRCH: no
 * such child; -EPERM: another uid's child by pid. */
int	forkd_signal(struct forkd *, pid_t pid, const char *name, int sig)
	    FORKD_WUR;
/* forkd_signal() with SIGTERM / SIGKILL. */
int	forkd_terminate(struct forkd *, pid_t pid) FORKD_WUR;
int	forkd_kill(struct forkd *, pid_t pid) FORKD_WUR;

/* Wait until a child (by pid, or by name when pid is 0, resolved as for
 * forkd_signal()) has ended, at most timeout_ms (FORKD_INFINITE: no
 * limit; 0: just check). A child that already ended is reported at once
 * while the daemon remembers it (the last 1024 exits of each uid). -ETIMEDOUT when
 * time ran out. */
int	forkd_wait(struct forkd *, pid_t pid, const char *name, int timeout_ms,
	    struct forkd_exit *ret) FORKD_WUR;
/* Wait for the first of n children to end. */
int	forkd_wait_any(struct forkd *, const pid_t *pids, size_t n,
	    int timeout_ms, struct forkd_exit *ret) FORKD_WUR;
/* forkd_wait_any() with names: child i is pids[i], or names[i] when
 * pids[i] is 0, resolved by the daemon as for forkd_wait(). */
int	forkd_wait_refs(struct forkd *, const pid_t *pids,
	    const char *const *names, size_t n, int timeout_ms,
	    struct forkd_exit *ret) FORKD_WUR;

/* Live children (of every uid when the caller is root, else the caller's
 * uid). *ret is malloc'd; free() it. */
int	forkd_list(struct forkd *, struct forkd_child **ret, size_t *ret_n)
	    FORKD_WUR;
/* forkd_list() with flags: FORKD_LIST_ENDED adds the ended children that
 * forkd remembers (its exit history), newest first, after the live ones,
 * with ended set; as many as fit in one reply. */
#define FORKD_LIST_ENDED	0x1
int	forkd_list_ex(struct forkd *, unsigned int flags,
	    struct forkd_child **ret, size_t *ret_n) FORKD_WUR;
/* Daemon status; free with forkd_status_free(). */
int	forkd_status(struct forkd *, struct forkd_status **ret) FORKD_WUR;
void	forkd_status_free(struct forkd_status *);
/* Round trip to the daemon. */
int	forkd_ping(struct forkd *) FORKD_WUR;

/* Read every frame available now without blocking and queue exit events
 * and replies to forkd_*_start() requests. Returns the number of exit
 * events queued (replies are not counted: drain forkd_next_reply() too),
 * or a negative error. The queue keeps at most 65536 exit events; past
 * that the oldest uncollected one is dropped. */
int	forkd_process(struct forkd *) FORKD_WUR;
/* Take the oldest queued exit event of a child spawned on this connection:
 * 0 and *ret filled, or -EAGAIN when none is queued. Never blocks. Events
 * received before the connection closed are still returned; after them,
 * -ECONNRESET. */
int	forkd_next_exit(struct forkd *, struct forkd_exit *ret) FORKD_WUR;
/* Block up to timeout_ms for the next exit event (see forkd_next_exit()):
 * -ETIMEDOUT when none arrived in time. */
int	forkd_wait_exit_event(struct forkd *, int timeout_ms,
	    struct forkd_exit *ret) FORKD_WUR;

/*
 * Requests without waiting, for event loops.
 *
 * forkd_spawn_start(), forkd_wait_start() and forkd_signal_start() check
 * their arguments as the blocking calls do (the same errors, before
 * anything is sent), send the request and return at once with its id in
 * *ret_id. The reply is read by forkd_process() (or by any other call on
 * the handle, which queues it while waiting for its own) and collected
 * with forkd_next_reply(), beside the exit events of forkd_next_exit().
 *
 * Many requests may be in flight on one connection, blocking calls
 * included. Replies come in the order forkd has them, not the order the
 * requests were sent: forkd answers a spawn once the child's set-up has
 * finished (or failed), a wait once a child ended or its time ran out, a
 * signal at once. Match them by id. A child's exit event can come before
 * the reply to its spawn (a child that ends at once); its pid is in both.
 *
 * Limits: libforkd keeps at most 4096 requests in flight or replies
 * uncollected (-EBUSY beyond). forkd itself answers -EAGAIN to more than
 * 1024 waits pending on one connection, applies its child limits to each
 * spawn, and closes a connection whose unread replies pass 4096 frames,
 * 2 MiB or 64 pidfds: read when forkd_fd() is readable. There is no
 * libforkd timeout on these requests (a wait has its own timeout_ms);
 * sending may still wait while the socket's buffer is full, up to the
 * usual 30 s (-ETIMEDOUT, nothing sent). If the connection closes,
 * forkd_next_reply() returns the replies that came, then -ECONNRESET;
 * requests still in flight get none.
 */
#define FORKD_REPLY_SPAWN	1
#define FORKD_REPLY_WAIT	2
#define FORKD_REPLY_SIGNAL	3

/* The reply to one forkd_*_start() request. */
struct forkd_reply {
	uint32_t		id;		/* from *ret_id */
	int			kind;		/* FORKD_REPLY_* */
	int			error;		/* 0, or -errno as the blocking
						 * call would return */
	char			errmsg[FORKD_ERRMSG_MAX]; /* forkd's reason */
	/* SPAWN with error 0. The caller owns spawned.pidfd (-1 unless
	 * want_pidfd was set). */
	struct forkd_spawned	spawned;
	/* WAIT with error 0 (error -ETIMEDOUT when its time ran out). */
	struct forkd_exit	exit;
};

/* Send a spawn request; the reply comes as FORKD_REPLY_SPAWN. The fds
 * in opts are sent with the request, so they may be closed on return. */
int	forkd_spawn_start(struct forkd *, const struct forkd_spawn_opts *,
	    uint32_t *ret_id) FORKD_WUR;
/* Send a wait request for the first of n children to end, each by
 * pids[i], or names[i] when pids[i] is 0 (names may be NULL when no pid
 * is 0), as forkd_wait_refs(). The reply comes as FORKD_REPLY_WAIT. */
int	forkd_wait_start(struct forkd *, const pid_t *pids,
	    const char *const *names, size_t n, int timeout_ms,
	    uint32_t *ret_id) FORKD_WUR;
/* Send a signal request, as forkd_signal(); reply FORKD_REPLY_SIGNAL. */
int	forkd_signal_start(struct forkd *, pid_t pid, const char *name,
	    int sig, uint32_t *ret_id) FORKD_WUR;
/* Take the oldest queued reply: 0 and *ret filled, -EAGAIN when none is
 * queued (call forkd_process() when forkd_fd() is readable), -ECONNRESET
 * once the connection closed and every reply that came was taken. Never
 * blocks. */
int	forkd_next_reply(struct forkd *, struct forkd_reply *ret) FORKD_WUR;
/* How many forkd_*_start() requests still wait for their reply. */
size_t	forkd_pending(const struct forkd *);

#ifdef __cplusplus
}
#endif

#endif
