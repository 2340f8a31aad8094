/* request.h: handling authenticated requests. */
#ifndef FORKD_REQUEST_H
#define FORKD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

struct session;
struct Forkd__Request;

/* Handle one request; fds are consumed whatever happens. */
void	request_dispatch(struct session *, const struct Forkd__Request *,
	    int *fds, size_t nfds);
/* Answer a request with the error err (a -errno) without handling it: a
 * string field held a NUL byte. fds are closed. */
void	request_refuse(struct session *, uint32_t id, int *fds, size_t nfds,
	    int err, const char *why);

#endif
