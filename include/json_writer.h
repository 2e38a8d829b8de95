/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small streaming JSON writer for result documents, and the atomic,
 * never-overwriting file write that stores them.  Host-only: it formats
 * floating point, so it is built without -mgeneral-regs-only and must not
 * be called from guest-visible objects with double arguments.
 */
#ifndef IPI_JSON_WRITER_H
#define IPI_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	FILE *f;
	int depth;
	bool first[JSON_MAX_DEPTH];
	bool error;
};

void json_init(struct json_writer *w, FILE *f);
/* @key is NULL inside arrays and for the top-level value. */
void json_begin_object(struct json_writer *w, const char *key);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w, const char *key);
void json_end_array(struct json_writer *w);
void json_string(struct json_writer *w, const char *key, const char *value);
void json_u64(struct json_writer *w, const char *key, uint64_t value);
void json_i64(struct json_writer *w, const char *key, int64_t value);
void json_double(struct json_writer *w, const char *key, double value);
void json_bool(struct json_writer *w, const char *key, bool value);
void json_null(struct json_writer *w, const char *key);
/* Insert an already serialized JSON value verbatim. */
void json_raw(struct json_writer *w, const char *key, const char *text);
/* 0 when the document is complete and every write succeeded. */
int json_finish(struct json_writer *w);

/*
 * Write @len bytes to @path atomically: a temporary file in the same
 * directory, fsync, then link(2), which fails with EEXIST instead of
 * replacing an existing result.  Returns 0 or a negative errno.
 */
int write_file_noreplace(const char *path, const void *buf, size_t len);
/* The same, with rename(2): for a file this run created and keeps up to date. */
int write_file_replace(const char *path, const void *buf, size_t len);

#endif /* IPI_JSON_WRITER_H */
