/* textfile.h: read a file a user named whole, within a size cap. */
#ifndef FORKD_TEXTFILE_H
#define FORKD_TEXTFILE_H

#include <stddef.h>

/* Read path whole: a regular file (or a character device such as
 * /dev/null) of at most max bytes with no NUL byte (a FIFO is refused,
 * not waited on). *ret is malloc'd and NUL-terminated. 0 or -errno, with
 * errbuf saying why. */
int	textfile_read(const char *path, size_t max, char **ret, char *errbuf,
	    size_t errlen);

#endif /* FORKD_TEXTFILE_H */
