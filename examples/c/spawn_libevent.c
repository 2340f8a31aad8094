/* spawn_libevent.c: start N children from a libevent loop without
 * blocking it, with libforkd's forkd_spawn_start() / forkd_next_reply().
 *
 *	spawn_libevent N TARGET [ARG...]
 *
 * connects to forkd ($FORKD_SOCKET, $FORKD_KEY_FILE), sends N spawn
 * requests at once, and serves everything from one event on forkd_fd():
 * spawn replies (matched by request id) and exit events. A 10 ms timer
 * runs meanwhile, to show that the loop is never held up. Exits 0 when
 * every child started and exited 0.
 *
 * Build: cc spawn_libevent.c $(pkg-config --cflags --libs libforkd libevent)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <forkd.h>

struct app {
	struct forkd		*conn;
	struct event_base	*base;
	int			 n;		/* children asked for */
	int			 started;	/* spawn replies, error 0 */
	int			 failed;	/* spawn replies with an error */
	int			 exited;	/* exit events */
	int			 nonzero;	/* of which not exit 0 */
	long			 ticks;		/* timer runs meanwhile */
};

/* Done when every spawn was answered and every started child ended. */
static void
app_check_done(struct app *a)
{
	if (a->started + a->failed == a->n && a->exited == a->started)
		event_base_loopexit(a->base, NULL);
}

/* forkd's socket is readable: read, then take replies and exit events. */
static void
on_forkd(evutil_socket_t fd, short what, void *arg)
{
	struct app		*a = arg;
	struct forkd_reply	 rp;
	struct forkd_exit	 ex;
	int			 r;

	(void)fd;
	(void)what;
	if ((r = forkd_process(a->conn)) < 0) {
		fprintf(stderr, "forkd: %s (%s)\n", forkd_strerror(r),
		    forkd_errmsg(a->conn));
		event_base_loopbreak(a->base);
		return;
	}
	while (forkd_next_reply(a->conn, &rp) == 0) {
		if (rp.kind != FORKD_REPLY_SPAWN)
			continue;
		if (rp.error != 0) {
			printf("request %u: spawn failed: %s (%s)\n", rp.id,
			    forkd_strerror(rp.error), rp.errmsg);
			a->failed++;
			continue;
		}
		printf("request %u: started %s, pid %d\n", rp.id,
		    rp.spawned.name, (int)rp.spawned.pid);
		a->started++;
	}
	/* An exit event can come before its spawn's reply. */
	while (forkd_next_exit(a->conn, &ex) == 0) {
		printf("pid %d (%s) exited with %d\n", (int)ex.pid, ex.name,
		    ex.exitcode);
		a->exited++;
		if (ex.exitcode != 0)
			a->nonzero++;
	}
	app_check_done(a);
}

/* The loop keeps running while children start and run. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct app	*a = arg;

	(void)fd;
	(void)what;
	a->ticks++;
}

int
main(int argc, char **argv)
{
	struct app		 a = { 0 };
	struct forkd_error	 err;
	struct forkd_spawn_opts	 o;
	struct event		*ev_forkd, *ev_tick;
	struct timeval		 tick = { 0, 10000 };
	uint32_t		 id;
	int			 r;

	if (argc < 3 || (a.n = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: spawn_libevent N TARGET [ARG...]\n");
		return 2;
	}
	if (forkd_connect_ex(&a.conn, NULL, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	a.base = event_base_new();
	ev_forkd = event_new(a.base, forkd_fd(a.conn), EV_READ | EV_PERSIST,
	    on_forkd, &a);
	ev_tick = event_new(a.base, -1, EV_PERSIST, on_tick, &a);
	if (a.base == NULL || ev_forkd == NULL || ev_tick == NULL ||
	    event_add(ev_forkd, NULL) != 0 || event_add(ev_tick, &tick) != 0) {
		fprintf(stderr, "libevent set-up failed\n");
		return 1;
	}

	/* argv[2..] is the child's argv, argv[2] its target. */
	forkd_spawn_opts_init(&o);
	o.target = argv[2];
	o.argv = (const char *const *)&argv[2];
	for (int i = 0; i < a.n; i++) {
		if ((r = forkd_spawn_start(a.conn, &o, &id)) < 0) {
			fprintf(stderr, "spawn %d: %s (%s)\n", i,
			    forkd_strerror(r), forkd_errmsg(a.conn));
			return 1;
		}
	}
	printf("%d spawn requests sent\n", a.n);
	/* Replies that came while sending are already queued: the socket
	 * may not turn readable again for them. */
	on_forkd(-1, EV_READ, &a);
	if (event_base_dispatch(a.base) < 0)
		return 1;
	printf("%d started, %d failed, %d exited (%d non-zero), %ld ticks\n",
	    a.started, a.failed, a.exited, a.nonzero, a.ticks);
	event_free(ev_forkd);
	event_free(ev_tick);
	event_base_free(a.base);
	forkd_close(a.conn);
	return a.started == a.n && a.exited == a.n && a.nonzero == 0 ? 0 : 1;
}
