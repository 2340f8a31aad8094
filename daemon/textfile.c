/* textfile.c: read a file a user named (a config file) whole, without
 * waiting on a FIFO and without reading more than a cap. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "textfile.h"

/* Read path whole: a regular file (or a character device: /dev/null) of at
 * most max bytes, with no NUL byte in it. *ret is malloc'd and
 * NUL-terminated. 0 or -errno, with errbuf. */
int
textfile_read(const char *path, size_t max, char **ret, char *errbuf,
    size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0, cap;
	ssize_t		 n;
	int		 fd, r = 0;

	/* O_NONBLOCK: a FIFO is refused below, not waited on. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) < 0 || fstat(fd, &st) != 0) {
		r = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* A file, or a device such as /dev/null (no settings at all). */
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		snprintf(errbuf, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ?
		    strerror(EISDIR) : "not a regular file");
		goto out;
	}
	/* The file's size (a device: a page) and room to see it grow; more
	 * as needed, up to one byte past the limit. */
	cap = S_ISREG(st.st_mode) && (uint64_t)st.st_size < max ?
	    (size_t)st.st_size + 1 : 4096;
	for (;;) {
		if (buf == NULL || len == cap) {
			char *nbuf;

			if (buf != NULL)
				cap = cap > (max + 1) / 2 ? max + 1 : 2 * cap;
			if ((nbuf = realloc(buf, cap + 1)) == NULL) {
				r = -ENOMEM;
				snprintf(errbuf, errlen, "%s: out of memory",
				    path);
				goto out;
			}
			buf = nbuf;
		}
		if (len > max ||
		    (n = read(fd, buf + len, cap - len)) == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(errbuf, errlen, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len > max) {
		r = -EFBIG;
		snprintf(errbuf, errlen, "%s: larger than %zu bytes", path,
		    max);
		goto out;
	}
	if (memchr(buf, '\0', len) != NULL) {
		r = -EINVAL;
		snprintf(errbuf, errlen, "%s: contains a NUL byte", path);
		goto out;
	}
	buf[len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	if (r != 0)
		free(buf);
	else
		*ret = buf;
	return r;
}
