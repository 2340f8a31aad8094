/* session.h: one client connection, an explicit state machine. */
#ifndef FORKD_SESSION_H
#define FORKD_SESSION_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "auth.h"
#include "secret.h"
#include "wire.h"

struct event;

enum session_state {
	SESSION_HELLO_SENT,	/* waiting for the client's Auth */
	SESSION_AUTHED,		/* requests accepted */
	SESSION_CLOSING,	/* no more reading; freed from the loop */
	SESSION_STATE_MAX
};

struct session_frame {
	STAILQ_ENTRY(session_frame)	 f_entry;
	size_t				 f_len;
	int				 f_fd;	/* sent with it (SCM_RIGHTS), or -1;
						 * closed once sent or dropped */
	unsigned char			 f_data[];
};

struct session {
	TAILQ_ENTRY(session)	 s_entry;
	uint64_t		 s_id;
	int			 s_fd;
	enum session_state	 s_state;
	struct event		*s_rev;
	struct event		*s_wev;
	struct event		*s_timer;	/* handshake deadline, then idle */
	uid_t			 s_uid;
	gid_t			 s_gid;
	pid_t			 s_pid;
	unsigned char		 s_sn[AUTH_NONCE_LEN];
	unsigned char		*s_key;		/* sodium_malloc'd session key */
	struct secret		 s_key_secret;	/* s_key, registered */
	struct wire_mac		 s_mac;
	STAILQ_HEAD(, session_frame) s_outq;
	unsigned int		 s_outq_len;
	size_t			 s_outq_bytes;
	size_t			 s_max_send;	/* largest datagram it sends */
	unsigned int		 s_outq_fds;	/* queued frames holding an fd */
	const char		*s_close_reason;
	uint64_t		 s_requests;
	unsigned int		 s_children;	/* live children it owns
						 * (session_count_child()) */
	unsigned int		 s_waits;	/* pending waits
						 * (session_count_wait()) */
	uint64_t		 s_active_ms;	/* last request or reply */
	int			 s_uid_refused;	/* allow_uids refusal logged */
};

TAILQ_HEAD(session_list, session);
extern struct session_list sessions;

const char *session_state_name(enum session_state);
struct ucred;
/* Take over an accepted fd; sends Hello. peer: its SO_PEERCRED, already
 * read by the caller (NULL: read it here). Returns 0 or -errno. */
int	session_create(int fd, const struct ucred *peer);
/* Tear down: log reason, disown children, free later from the loop. */
void	session_close(struct session *, const char *reason);
unsigned int session_count(void);
/* Make room for a new connection from uid (per-uid and total limits,
 * evicting handshakes in progress); 0 or -EUSERS (refuse it). */
int	session_admit(uid_t uid);
/* Free every session now (shutdown). */
void	session_free_all(void);
/* Try to write queued frames of every session once, without blocking. */
void	session_flush_all(void);
/* The limits changed (SIGHUP): re-arm every idle timer. */
void	session_limits_changed(void);
/* Count a live child of s in (delta > 0, spawn.c) or out (< 0); the
 * idle timeout spares a session that owns one. */
void	session_count_child(struct session *, int delta);
/* Count a pending wait of s in or out (waiter.c); the idle timeout spares
 * a session that waits. */
void	session_count_wait(struct session *, int delta);
/* Pending waits of s (request.c caps them). */
unsigned int session_waits(const struct session *);

struct Forkd__Response;
struct Forkd__ExitEvent;
/* Send a built Response with fd (>= 0, consumed either way; -1: none), or
 * push an ExitEvent: no-op unless authenticated. reply.c builds them. */
void	session_reply_fd(struct session *, struct Forkd__Response *, int fd);
void	session_reply(struct session *, struct Forkd__Response *);
void	session_push_exit(struct session *, struct Forkd__ExitEvent *);

/* Log with the session prefix. */
void	session_log(const struct session *, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
struct log_ratelimit;
int	session_log_limited(const struct session *, struct log_ratelimit *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
