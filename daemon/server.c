/* server.c: listening socket, accept, signals, sd_notify, shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "auth.h"
#include "cgroup.h"
#include "child.h"
#include "clock.h"
#include "closer.h"
#include "forkd.h"
#include "forkd.pb-c.h"
#include "log.h"
#include "module.h"
#include "policy.h"
#include "pool.h"
#include "secret.h"
#include "server.h"
#include "session.h"
#include "spawn.h"

/* Set by server_init() (or server_test_init()), changed only here: the
 * configuration by SIGHUP (server_reload()) or server_config_set(), the
 * key by SIGHUP (server_reload_key()). Others read them through
 * server_evbase(), server_config_get(), server_authkey(). */
static struct event_base *server_evb;
static struct config	 server_cfg;
static struct server_counters server_stats;
static const unsigned char *server_key;
static size_t		 server_keylen;
static uint64_t		 server_started_ms;
static int		 server_shutting_down;
static int		 server_devnull_fd = -1;
static pid_t		 server_self;

static unsigned char	*server_key_rw;		/* same memory, for wiping */
static struct secret	 server_key_secret;	/* server_key_rw, registered */
static int		 server_listen_fd = -1;
static int		 server_unlink_socket;	/* we created the path */
static const char	*server_config_path;
static struct event	*server_accept_ev;
static struct event	*server_accept_pause_ev;
static struct event	*server_sig_ev[4];
static struct event	*server_status_ev;
static struct event	*server_stop_ev;
static int		 server_notify;		/* NOTIFY_SOCKET was set */
static int		 server_status_dirty;

/* The event loop (NULL before server_init() and after server_loop()). */
struct event_base *
server_evbase(void)
{
	return server_evb;
}

/* The configuration in force, read-only. */
const struct config *
server_config_get(void)
{
	return &server_cfg;
}

/* Replace the configuration: *cfg is taken over, the old one freed. */
void
server_config_set(struct config *cfg)
{
	config_free(&server_cfg);
	server_cfg = *cfg;
	memset(cfg, 0, sizeof *cfg);
}

/* The authkey; its length in *ret_len. */
const unsigned char *
server_authkey(size_t *ret_len)
{
	*ret_len = server_keylen;
	return server_key;
}

/* Milliseconds since start-up (server_init()). */
uint64_t
server_uptime_ms(void)
{
	return clock_since_ms(server_started_ms);
}

/* What server_init() sets for sessions, without a listener, signals,
 * modules or a closer: for a fuzzer's or a test's set-up. The key stays
 * the caller's. */
void
server_test_init(struct event_base *base, const unsigned char *key,
    size_t keylen)
{
	server_evb = base;
	server_key = key;
	server_keylen = keylen;
	server_started_ms = clock_mono_ms();
	if (server_cfg.limits.max_frame == 0)
		config_init(&server_cfg);
}

/* forkd's fd of /dev/null. */
int
server_devnull(void)
{
	return server_devnull_fd;
}

/* Set forkd's fd of /dev/null. */
void
server_devnull_set(int fd)
{
	server_devnull_fd = fd;
}

/* forkd's own pid. */
pid_t
server_pid(void)
{
	return server_self;
}

/* Is forkd stopping? */
int
server_stopping(void)
{
	return server_shutting_down;
}

/* The counters, read-only. */
const struct server_counters *
server_stats_get(void)
{
	return &server_stats;
}

/* Count one refused client. */
void
server_stats_count(enum server_stat what)
{
	switch (what) {
	case SERVER_STAT_AUTH_FAILURE:
		server_stats.auth_failures++;
		break;
	case SERVER_STAT_PROTOCOL_ERROR:
		server_stats.protocol_errors++;
		break;
	case SERVER_STAT_REFUSED:
		server_stats.connections_refused++;
		break;
	}
}

/* Mark the STATUS= line stale; a timer sends it at most once a second. */
void
server_status_changed(void)
{
	server_status_dirty = 1;
}

static void
server_status_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!server_status_dirty || !server_notify)
		return;
	server_status_dirty = 0;
	sd_notifyf(0, "STATUS=%s: %u children, %u connections, %llu spawned",
	    server_shutting_down ? "stopping" : "serving", spawn_stats.live,
	    session_count(), (unsigned long long)spawn_stats.spawned);
}

/* Shutdown finishes once no daemon-flag child is left. */
void
server_check_shutdown(void)
{
	if (server_shutting_down && spawn_daemon_children_alive() == 0 &&
	    server_evb != NULL)
		event_base_loopexit(server_evb, NULL);
}

/* Last resort after the grace period. */
static void
server_stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warnx("daemon children still alive after the grace period; "
	    "exiting anyway");
	event_base_loopexit(server_evb, NULL);
}

/* SIGTERM/SIGINT: stop accepting, terminate daemon children, then exit. */
static void
server_shutdown(void)
{
	struct timeval	tv;
	unsigned int	left;

	if (server_shutting_down)
		return;
	server_shutting_down = 1;
	if (server_notify)
		sd_notify(0, "STOPPING=1");
	if (server_accept_ev != NULL)
		event_del(server_accept_ev);
	if (server_accept_pause_ev != NULL)
		event_del(server_accept_pause_ev);
	if (server_listen_fd >= 0) {
		close(server_listen_fd);
		server_listen_fd = -1;
	}
	if (server_unlink_socket && server_cfg.socket_path != NULL)
		unlink(server_cfg.socket_path);
	log_info("stopping: no new connections");
	pool_shutdown();
	left = spawn_terminate_daemon_children();
	if (left > 0) {
		log_info("waiting for %u daemon children to exit", left);
		/* SIGKILL comes at kill_grace_ms; give reaping a second more. */
		tv = clock_tv((uint64_t)server_cfg.limits.kill_grace_ms + 1000);
		server_stop_ev = evtimer_new(server_evb,
		    server_stop_timeout_cb, NULL);
		if (server_stop_ev != NULL)
			evtimer_add(server_stop_ev, &tv);
	}
	server_check_shutdown();
}

/* SIGHUP: re-read the key file with the checks of start-up. A good key
 * replaces the old one for every handshake from now on (sessions already
 * authenticated keep their session keys); a bad one changes nothing. */
static void
server_reload_key(void)
{
	unsigned char	*key, *old = server_key_rw;
	size_t		 keylen, oldlen = server_keylen;
	char		 err[1024];

	if (auth_key_load(server_cfg.key_file, 1, &key, &keylen, err,
	    sizeof err) != 0) {
		log_warnx("SIGHUP: %s; keeping the current key", err);
		return;
	}
	secret_unregister(&server_key_secret);
	secret_register(&server_key_secret, key, AUTH_KEY_MAX, 1);
	server_key_rw = key;
	server_key = key;
	server_keylen = keylen;
	if (keylen == oldlen && sodium_memcmp(key, old, keylen) == 0)
		log_info("SIGHUP: key re-read from %s (unchanged)",
		    server_cfg.key_file);
	else
		log_info("SIGHUP: key re-read from %s: new connections must "
		    "use the new key", server_cfg.key_file);
	auth_key_free(old, oldlen);
}

/* SIGHUP: re-read the key, limits, policy and log level; modules stay. */
static void
server_reload(void)
{
	struct config_limits	lim;
	struct config_policy	pol;
	char			err[512];
	int			level;

	server_reload_key();
	if (server_config_path == NULL) {
		log_info("SIGHUP: no config file to re-read");
		return;
	}
	if (config_reload(server_config_path, &lim, &pol, &level, err,
	    sizeof err) != 0) {
		log_warnx("SIGHUP: %s; keeping the current limits and policy",
		    err);
		return;
	}
	if (server_cfg.cli_set & CONFIG_CLI_POOL)
		lim.pool_max = server_cfg.limits.pool_max;
	server_cfg.limits = lim;
	if (!(server_cfg.cli_set & CONFIG_CLI_LOGLEVEL)) {
		server_cfg.log_level = level;
		log_set_level(level);
	}
	config_policy_free(&server_cfg.policy);
	server_cfg.policy = pol;
	pool_config_changed();
	session_limits_changed();
	log_info("SIGHUP: limits and policy re-read from %s",
	    server_config_path);
	policy_log(&server_cfg.policy, "SIGHUP");
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("%s received", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		server_shutdown();
		break;
	case SIGHUP:
		server_reload();
		break;
	case SIGCHLD:
		spawn_reap();
		break;
	}
}

static void
server_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!server_shutting_down && server_accept_ev != NULL)
		event_add(server_accept_ev, NULL);
}

/* Refuse a connection over the limit with an unauthenticated error. */
static void
server_refuse(int fd, int code, const char *msg)
{
	Forkd__ServerMessage	m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Error		e = FORKD__ERROR__INIT;
	unsigned char		pbuf[256], fbuf[256 + WIRE_OVERHEAD];
	size_t			plen, flen;

	e.code = code;
	e.message = (char *)msg;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_ERROR;
	m.error = &e;
	plen = forkd__server_message__get_packed_size(&m);
	if (plen <= sizeof pbuf) {
		forkd__server_message__pack(&m, pbuf);
		if (wire_seal(NULL, pbuf, plen, fbuf, sizeof fbuf, &flen) == 0)
			(void)wire_send(fd, fbuf, flen, NULL, 0);
	}
	close(fd);
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	static struct log_ratelimit refuse_rl;
	struct timeval	tv = { 1, 0 };
	struct ucred	uc;
	socklen_t	ucl;
	int		fd, known;

	/* Accept a bounded batch, then let the loop run. */
	for (int i = 0; i < 32; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Do not spin: pause accepting for a second. */
				log_warn("accept (pausing for 1 s)");
				event_del(server_accept_ev);
				evtimer_add(server_accept_pause_ev, &tv);
				return;
			}
			log_warn("accept");
			return;
		}
		ucl = sizeof uc;
		/* The peer's uid decides whose handshake makes room. */
		known = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ucl) == 0;
		if (session_admit(known ? uc.uid : (uid_t)-2) != 0) {
			server_stats.connections_refused++;
			log_notice_limited(&refuse_rl, "connection refused: %u "
			    "connections (limit max_connections)",
			    session_count());
			server_refuse(fd, -EUSERS, "too many connections");
			continue;
		}
		if (session_create(fd, known ? &uc : NULL) != 0) {
			log_warnx("cannot set up a session: out of memory");
			close(fd);
		}
	}
}

/* Is the process that listened (SO_PEERCRED of a connection to it)
 * still there, not a zombie? */
static int
server_listener_alive(pid_t pid)
{
	char st = spawn_proc_state(pid);

	if (st == 0)	/* no /proc */
		return kill(pid, 0) == 0 || errno != ESRCH;
	return st != 'Z';
}

/* Is a forkd accepting connections on path? A connect() that succeeds is
 * not enough: the socket of a forkd that was killed stays open while a
 * process that shares its fd table lives on (forkd-closer, until it sees
 * forkd gone, or its worker in a close() that hangs), and the kernel
 * queues connections nobody will accept. Live means the process that
 * called listen() (SO_PEERCRED) is alive too. */
static int
server_socket_live(const struct sockaddr_un *sun)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;
	int		fd, live;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	if (live && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    cred.pid > 0 && cred.pid != getpid())
		live = server_listener_alive(cred.pid);
	close(fd);
	return live;
}

/* Create, bind and listen on the configured path, with mode and, unless
 * gid is (gid_t)-1, that group.
 *
 * Nothing here follows a symlink at the path: in a directory others may
 * write to (and that is not sticky) the socket can be replaced by a link
 * between bind() and the next call, and a chmod()/chown() by path would
 * then change whatever the link points to. The mode is set by the umask
 * at bind() time; what bind() created is checked through an O_PATH |
 * O_NOFOLLOW fd, and the group and, with a group, the final mode are set
 * through that fd. */
static int
server_listen_path(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	struct stat		st;
	mode_t			old, first;
	char			proc[64];
	int			fd, pfd;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("socket path %s is %zu bytes; a Unix socket path must be "
		    "shorter than %zu bytes (sun_path): choose a shorter path",
		    path, strlen(path), sizeof sun.sun_path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("socket path %s exists and is not a socket; "
			    "refusing to replace it", path);
		if (server_socket_live(&sun))
			fatalx("socket path %s: another forkd is already "
			    "listening there", path);
		if (unlink(path) != 0)
			fatal("socket path %s: cannot remove stale socket",
			    path);
		log_info("removed stale socket %s", path);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket");
	/* Bind with the final mode already in force: no window in which
	 * the socket is more open than configured. With a group to set,
	 * owner-only until the group is right. */
	first = gid == (gid_t)-1 ? mode : (mode & 0700);
	old = umask(0777 & ~first);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;

		umask(old);
		errno = e;
		if (e == ENOENT)
			fatal("socket path %s: bind (does its directory exist? "
			    "-s PATH or socket= in the config chooses another)",
			    path);
		fatal("socket path %s: bind", path);
	}
	umask(old);
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid())
		fatalx("socket path %s was replaced right after bind() (now %s); "
		    "is its directory writable by others? Refusing to go on",
		    path, pfd < 0 ? strerror(errno) : S_ISLNK(st.st_mode) ?
		    "a symlink" : !S_ISSOCK(st.st_mode) ? "not a socket" :
		    "owned by another uid");
	if (gid != (gid_t)-1 &&
	    fchownat(pfd, "", (uid_t)-1, gid, AT_EMPTY_PATH) != 0)
		fatal("socket path %s: cannot give it group %u (socket_group; "
		    "forkd must be root or a member)", path, (unsigned)gid);
	/* The final mode when a group was set, or when the umask was not
	 * what decided (a default ACL on the directory). chmod() of the
	 * fd's /proc link reaches this very inode, never a link put in its
	 * place (fchmod() refuses O_PATH fds). */
	if (gid != (gid_t)-1 || (st.st_mode & 07777) != mode) {
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
		if (chmod(proc, mode) != 0)
			fatal("socket path %s: chmod through %s", path, proc);
	}
	close(pfd);
	if (listen(fd, 128) != 0)
		fatal("socket path %s: listen", path);
	server_unlink_socket = 1;
	return fd;
}

/* Take a socket from systemd, or create our own. */
static int
server_open_listener(struct config *cfg)
{
	int n, fd;

	n = sd_listen_fds(1);
	if (n < 0)
		fatalx("sd_listen_fds: %s", strerror(-n));
	if (n > 1)
		fatalx("systemd passed %d sockets; forkd takes exactly one", n);
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
			fatalx("the socket systemd passed is not a listening "
			    "AF_UNIX SOCK_SEQPACKET socket (use "
			    "ListenSequentialPacket=)");
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
			fatal("socket from systemd: fcntl");
		log_info("listening on the socket passed by systemd");
		if (cfg->socket_gid != (gid_t)-1)
			log_info("socket_group is not used under socket "
			    "activation (set SocketGroup= in the .socket unit)");
		return fd;
	}
	if (cfg->socket_path == NULL &&
	    (cfg->socket_path = strdup(FORKD_DEFAULT_SOCKET)) == NULL)
		fatal("strdup");
	fd = server_listen_path(cfg->socket_path, cfg->socket_mode,
	    cfg->socket_gid);
	if (cfg->socket_gid != (gid_t)-1)
		log_info("listening on %s (mode %04o, group %u)",
		    cfg->socket_path, (unsigned)cfg->socket_mode,
		    (unsigned)cfg->socket_gid);
	else
		log_info("listening on %s (mode %04o)", cfg->socket_path,
		    (unsigned)cfg->socket_mode);
	return fd;
}

/* Everything before the loop; any failure is fatal and says why. */
void
server_init(struct config *cfg, const char *config_path)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	char		 err[1024];
	struct timeval	 one = { 1, 0 };
	unsigned char	*key;
	size_t		 keylen;
	int		 cr;

	server_cfg = *cfg;
	server_config_path = config_path;
	server_started_ms = clock_mono_ms();
	server_self = getpid();
	server_notify = getenv("NOTIFY_SOCKET") != NULL;

	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	/* First: the closer of clients' fds holds no key and no module. */
	/* Only refused where clone(CLONE_FILES) is (valgrind): forkd then
	 * closes clients' fds itself, without lingering, and says so. */
	if ((cr = closer_start()) != 0)
		log_warnx("cannot start the fd closer process: %s; a client's "
		    "fd whose close() blocks (FUSE) can stall forkd",
		    strerror(-cr));
	if (auth_key_load(cfg->key_file, 1, &key, &keylen, err,
	    sizeof err) != 0)
		fatalx("%s", err);
	server_key_rw = key;
	server_key = key;
	server_keylen = keylen;
	secret_register(&server_key_secret, key, AUTH_KEY_MAX, 1);

	/* Before anything is forked (the zygote, the pool inherit the CPU)
	 * and before the socket exists (a bad CPU leaves nothing behind). */
	if (server_cfg.spawn_cpu >= 0) {
		int r = child_affinity_init(server_cfg.spawn_cpu);

		if (r == -EINVAL)
			fatalx("spawn_cpu %d: not one of the CPUs forkd may run "
			    "on (see taskset -p %d)", server_cfg.spawn_cpu,
			    (int)getpid());
		if (r != 0)
			fatalx("spawn_cpu %d: %s", server_cfg.spawn_cpu,
			    strerror(-r));
		log_info("spawn_cpu: forkd, its zygote and idle pool children "
		    "run on CPU %d", server_cfg.spawn_cpu);
	}

	server_devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (server_devnull_fd < 0)
		fatal("/dev/null");

	for (size_t i = 0; i < cfg->n_modules; i++)
		if (module_load(cfg->modules[i], err, sizeof err) != 0)
			fatalx("%s", err);
	if (module_check_single_threaded(err, sizeof err) != 0)
		fatalx("%s", err);
	policy_set_module_restricted(module_any_restricted());

	signal(SIGPIPE, SIG_IGN);
	if ((server_evb = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		server_sig_ev[i] = evsignal_new(server_evb, sigs[i],
		    server_signal_cb, NULL);
		if (server_sig_ev[i] == NULL ||
		    evsignal_add(server_sig_ev[i], NULL) != 0)
			fatalx("cannot install signal handler %d", sigs[i]);
	}
	server_listen_fd = server_open_listener(&server_cfg);
	server_accept_ev = event_new(server_evb, server_listen_fd,
	    EV_READ | EV_PERSIST, server_accept_cb, NULL);
	server_accept_pause_ev = evtimer_new(server_evb,
	    server_accept_resume_cb, NULL);
	server_status_ev = event_new(server_evb, -1, EV_PERSIST,
	    server_status_cb, NULL);
	if (server_accept_ev == NULL || server_accept_pause_ev == NULL ||
	    server_status_ev == NULL || event_add(server_accept_ev, NULL) != 0)
		fatalx("cannot set up the accept event");
	event_add(server_status_ev, &one);
	/* Children reset only what differs from the defaults now. */
	child_signals_init();
	child_nofile_init();
	/* Before the pool forks: forkd may move itself into a leaf cgroup. */
	cgroup_init(server_cfg.cgroup_root);
	/* Pre-fork after everything the children should inherit is set up. */
	pool_init();
	/* Children reaped before the loop started (none yet) or after. */
	log_info("forkd %s ready: %zu module%s, pid %d", FORKD_VERSION_STRING,
	    module_count(), module_count() == 1 ? "" : "s", (int)getpid());
	policy_log(&server_cfg.policy, "start");
}

/* Run until shutdown. */
int
server_loop(void)
{
	if (server_notify)
		sd_notifyf(0, "READY=1\nSTATUS=serving\nMAINPID=%d",
		    (int)getpid());
	event_base_dispatch(server_evb);
	session_flush_all();
	log_info("stopped: %llu children spawned, %u still running",
	    (unsigned long long)spawn_stats.spawned, spawn_stats.live);
	session_free_all();
	closer_stop();
	pool_shutdown();
	spawn_free_all();
	cgroup_shutdown();
	for (size_t i = 0; i < sizeof server_sig_ev / sizeof server_sig_ev[0];
	    i++)
		if (server_sig_ev[i] != NULL)
			event_free(server_sig_ev[i]);
	if (server_accept_ev != NULL)
		event_free(server_accept_ev);
	if (server_accept_pause_ev != NULL)
		event_free(server_accept_pause_ev);
	if (server_status_ev != NULL)
		event_free(server_status_ev);
	if (server_stop_ev != NULL)
		event_free(server_stop_ev);
	event_base_free(server_evb);
	server_evb = NULL;
	if (server_listen_fd >= 0)
		close(server_listen_fd);
	if (server_unlink_socket && !server_shutting_down &&
	    server_cfg.socket_path != NULL)
		unlink(server_cfg.socket_path);
	secret_unregister(&server_key_secret);
	auth_key_free(server_key_rw, server_keylen);
	server_key_rw = NULL;
	server_key = NULL;
	module_unload_all();
	if (server_devnull_fd >= 0)
		close(server_devnull_fd);
	config_free(&server_cfg);
	return 0;
}
