/* json.c: a minimal streaming JSON writer for forkctl --json.
 *
 * Output is one compact line per document. Strings are escaped per RFC 8259;
 * bytes that are not valid UTF-8 (names and paths are arbitrary bytes)
 * become U+FFFD so the output is always valid JSON.
 */
#include <stdio.h>
#include <string.h>

#include "forkctl.h"

/* Start writing one document to f. */
void
json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof *j);
	j->j_f = f;
	j->j_first[0] = 1;
}

/* Separator before a value or key. */
static void
json_sep(struct json *j)
{
	if (j->j_after_key) {
		j->j_after_key = 0;
		return;
	}
	if (!j->j_first[j->j_depth])
		fputc(',', j->j_f);
	j->j_first[j->j_depth] = 0;
}

/* Open a container. */
static void
json_open(struct json *j, int c)
{
	json_sep(j);
	fputc(c, j->j_f);
	if (j->j_depth + 1 < JSON_DEPTH_MAX)
		j->j_depth++;
	j->j_first[j->j_depth] = 1;
}

/* Close a container. */
static void
json_close(struct json *j, int c)
{
	fputc(c, j->j_f);
	if (j->j_depth > 0)
		j->j_depth--;
}

/* Open an object. */
void
json_obj_begin(struct json *j)
{
	json_open(j, '{');
}

/* Close an object. */
void
json_obj_end(struct json *j)
{
	json_close(j, '}');
}

/* Open an array. */
void
json_arr_begin(struct json *j)
{
	json_open(j, '[');
}

/* Close an array. */
void
json_arr_end(struct json *j)
{
	json_close(j, ']');
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
size_t
forkctl_utf8_len(const unsigned char *s)
{
	size_t		n;
	unsigned int	cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* Write s as an escaped JSON string. */
static void
json_quote(FILE *f, const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 n;

	fputc('"', f);
	while (*s != '\0') {
		switch (*s) {
		case '"':	fputs("\\\"", f); s++; continue;
		case '\\':	fputs("\\\\", f); s++; continue;
		case '\b':	fputs("\\b", f); s++; continue;
		case '\f':	fputs("\\f", f); s++; continue;
		case '\n':	fputs("\\n", f); s++; continue;
		case '\r':	fputs("\\r", f); s++; continue;
		case '\t':	fputs("\\t", f); s++; continue;
		default:	break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s);
			s++;
			continue;
		}
		n = forkctl_utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

/* Object member name; the next call writes its value. */
void
json_key(struct json *j, const char *key)
{
	json_sep(j);
	json_quote(j->j_f, key);
	fputc(':', j->j_f);
	j->j_after_key = 1;
}

/* A string value (NULL: null). */
void
json_str(struct json *j, const char *s)
{
	json_sep(j);
	if (s == NULL)
		fputs("null", j->j_f);
	else
		json_quote(j->j_f, s);
}

/* A signed number. */
void
json_int(struct json *j, long long v)
{
	json_sep(j);
	fprintf(j->j_f, "%lld", v);
}

/* An unsigned number. */
void
json_uint(struct json *j, unsigned long long v)
{
	json_sep(j);
	fprintf(j->j_f, "%llu", v);
}

/* true or false. */
void
json_bool(struct json *j, int v)
{
	json_sep(j);
	fputs(v ? "true" : "false", j->j_f);
}

/* null. */
void
json_null(struct json *j)
{
	json_sep(j);
	fputs("null", j->j_f);
}

/* End the document with a newline. */
void
json_finish(struct json *j)
{
	fputc('\n', j->j_f);
	fflush(j->j_f);
}

/* An exit record as a JSON object (used by spawn --wait and wait). */
void
json_exit(struct json *j, const struct forkd_exit *ex)
{
	json_obj_begin(j);
	json_key(j, "pid");
	json_int(j, ex->pid);
	json_key(j, "name");
	json_str(j, ex->name);
	json_key(j, "exitcode");
	json_int(j, ex->exitcode);
	json_key(j, "signal");
	if (ex->exitcode < 0)
		json_int(j, -ex->exitcode);
	else
		json_null(j);
	json_key(j, "utime_us");
	json_uint(j, ex->rusage.utime_us);
	json_key(j, "stime_us");
	json_uint(j, ex->rusage.stime_us);
	json_key(j, "maxrss_kb");
	json_uint(j, ex->rusage.maxrss_kb);
	json_key(j, "timed_out");
	json_bool(j, ex->timed_out);
	json_key(j, "oom_killed");
	json_bool(j, ex->oom_killed);
	json_obj_end(j);
}

/* What an exit line says beyond the exit code. */
const char *
forkctl_exit_note(const struct forkd_exit *ex)
{
	if (ex->timed_out && ex->oom_killed)
		return " (timed out, OOM-killed)";
	if (ex->timed_out)
		return " (timed out)";
	if (ex->oom_killed)
		return " (OOM-killed)";
	return "";
}
