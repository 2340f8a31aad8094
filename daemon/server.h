/* server.h: the daemon's global state: loop, listener, key, signals. */
#ifndef FORKD_SERVER_H
#define FORKD_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct event_base;

struct server_counters {
	uint64_t	auth_failures;
	uint64_t	protocol_errors;
	uint64_t	connections_refused;
};

/* The event loop; NULL before server_init() and after server_loop(). */
struct event_base *server_evbase(void);
/* The configuration in force, read-only. server.c alone changes it: at
 * start-up, on SIGHUP, and in server_config_set(). */
const struct config *server_config_get(void);
/* Replace the configuration: *cfg is taken over (and zeroed), the old one
 * freed. For a fuzzer's or a test's set-up; SIGHUP reloads by itself. */
void	server_config_set(struct config *cfg);
/* The authkey (changed by SIGHUP); its length in *ret_len. */
const unsigned char *server_authkey(size_t *ret_len);
/* Milliseconds since server_init() (monotonic). */
uint64_t server_uptime_ms(void);
/* For a fuzzer's or a test's set-up that runs sessions without
 * server_init(): the loop, the authkey (stays the caller's), the start
 * time, and the default configuration if none was set. */
void	server_test_init(struct event_base *, const unsigned char *key,
	    size_t keylen);

/* Set up everything before the loop; fatal on error. */
void	server_init(struct config *, const char *config_path);
/* Run the loop until shutdown; returns the exit status. */
int	server_loop(void);
/* forkd's O_RDWR fd of /dev/null (the default stdio of children), and
 * forkd's own pid: set once at start-up. */
int	server_devnull(void);
pid_t	server_pid(void);
/* Set the /dev/null fd; server_init() does (or a fuzzer's set-up). */
void	server_devnull_set(int);
/* Is forkd stopping (SIGTERM/SIGINT)? Set once, by server.c alone. */
int	server_stopping(void);
/* The counters of refused clients, for the status reply; server.c and
 * session.c count them with server_stats_count(). */
enum server_stat {
	SERVER_STAT_AUTH_FAILURE,
	SERVER_STAT_PROTOCOL_ERROR,
	SERVER_STAT_REFUSED,
};
const struct server_counters *server_stats_get(void);
void	server_stats_count(enum server_stat);
/* A child or session changed: shutdown may complete, status may update. */
void	server_check_shutdown(void);
void	server_status_changed(void);

#endif
