// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_writer.h"

void json_init(struct json_writer *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->first[0] = true;
}

static void put_string(struct json_writer *w, const char *s)
{
	const unsigned char *p;

	fputc('"', w->f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", w->f);
			break;
		case '\\':
			fputs("\\\\", w->f);
			break;
		case '\n':
			fputs("\\n", w->f);
			break;
		case '\t':
			fputs("\\t", w->f);
			break;
		default:
			if (*p < 0x20)
				fprintf(w->f, "\\u%04x", *p);
			else
				fputc(*p, w->f);
		}
	}
	fputc('"', w->f);
}

/* Separator and key before a value; keys are required exactly inside objects. */
static void begin_value(struct json_writer *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = false;
	if (key) {
		put_string(w, key);
		fputc(':', w->f);
	}
}

static void open_scope(struct json_writer *w, const char *key, char c)
{
	begin_value(w, key);
	fputc(c, w->f);
	if (w->depth + 1 >= JSON_MAX_DEPTH) {
		w->error = true;
		return;
	}
	w->first[++w->depth] = true;
}

static void close_scope(struct json_writer *w, char c)
{
	if (w->depth == 0) {
		w->error = true;
		return;
	}
	w->depth--;
	fputc(c, w->f);
}

void json_begin_object(struct json_writer *w, const char *key)
{
	open_scope(w, key, '{');
}

void json_end_object(struct json_writer *w)
{
	close_scope(w, '}');
}

void json_begin_array(struct json_writer *w, const char *key)
{
	open_scope(w, key, '[');
}

void json_end_array(struct json_writer *w)
{
	close_scope(w, ']');
}

void json_string(struct json_writer *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (value)
		put_string(w, value);
	else
		fputs("null", w->f);
}

void json_u64(struct json_writer *w, const char *key, uint64_t value)
{
	begin_value(w, key);
	fprintf(w->f, "%llu", (unsigned long long)value);
}

void json_i64(struct json_writer *w, const char *key, int64_t value)
{
	begin_value(w, key);
	fprintf(w->f, "%lld", (long long)value);
}

void json_double(struct json_writer *w, const char *key, double value)
{
	begin_value(w, key);
	/* JSON has no NaN or infinity. */
	if (isfinite(value))
		fprintf(w->f, "%.6g", value);
	else
		fputs("null", w->f);
}

void json_bool(struct json_writer *w, const char *key, bool value)
{
	begin_value(w, key);
	fputs(value ? "true" : "false", w->f);
}

void json_null(struct json_writer *w, const char *key)
{
	begin_value(w, key);
	fputs("null", w->f);
}

void json_raw(struct json_writer *w, const char *key, const char *text)
{
	begin_value(w, key);
	fputs(text, w->f);
}

int json_finish(struct json_writer *w)
{
	if (w->depth || w->error || fflush(w->f) || ferror(w->f))
		return -1;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

static int write_file(const char *path, const void *buf, size_t len, bool replace)
{
	char *tmp;
	int fd, ret;

	if (asprintf(&tmp, "%s.tmp.%d", path, getpid()) < 0)
		return -ENOMEM;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, buf, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && (replace ? rename(tmp, path) : link(tmp, path)))
		ret = -errno;
	unlink(tmp);
out:
	free(tmp);
	return ret;
}

int write_file_noreplace(const char *path, const void *buf, size_t len)
{
	return write_file(path, buf, len, false);
}

int write_file_replace(const char *path, const void *buf, size_t len)
{
	return write_file(path, buf, len, true);
}
