/* request.h: handling authenticated requests. */
#ifndef FORKD_REQUEST_H
#define FORKD_REQUEST_H

#include <stddef.h>

struct session;
struct Forkd__Request;

/* Handle one request; fds are consumed whatever happens. */
void	request_dispatch(struct session *, const struct Forkd__Request *,
	    int *fds, size_t nfds);

#endif
