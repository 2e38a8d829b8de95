// SPDX-License-Identifier: GPL-2.0-only
/*
 * The JSON writer's output, parsed back with jq, and the atomic
 * never-overwriting file write.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "json_writer.h"

/* Run a jq -e expression over @doc; true when it holds. */
static bool jq_holds(const char *doc, const char *expr)
{
	char path[] = "/tmp/json_writer_test.XXXXXX";
	char *cmd;
	int fd = mkstemp(path), rc;

	if (fd < 0 || write(fd, doc, strlen(doc)) != (ssize_t)strlen(doc))
		return false;
	close(fd);
	if (asprintf(&cmd, "jq -e '%s' %s >/dev/null 2>&1", expr, path) < 0)
		return false;
	rc = system(cmd);
	free(cmd);
	unlink(path);
	return rc == 0;
}

static char *build(void (*fill)(struct json_writer *), int *finish)
{
	struct json_writer w;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_init(&w, f);
	fill(&w);
	*finish = json_finish(&w);
	fclose(f);
	return buf;
}

static void fill_doc(struct json_writer *w)
{
	json_begin_object(w, NULL);
	json_string(w, "s", "quote\" backslash\\ nl\n tab\t ctl\x01 utf8 é");
	json_u64(w, "u", 9007199254740991ull);
	json_i64(w, "i", -42);
	json_double(w, "d", 1.5);
	json_double(w, "nan", NAN);
	json_bool(w, "t", true);
	json_null(w, "z");
	json_string(w, "nullstr", NULL);
	json_begin_array(w, "a");
	json_u64(w, NULL, 1);
	json_begin_object(w, NULL);
	json_end_object(w);
	json_begin_array(w, NULL);
	json_end_array(w);
	json_end_array(w);
	json_raw(w, "raw", "{\"x\":[1,2]}");
	json_end_object(w);
}

TEST(document_parses_back)
{
	int finish;
	char *doc = build(fill_doc, &finish);

	ASSERT_EQ(0, finish);
	EXPECT_TRUE(jq_holds(doc, ".s == \"quote\\\" backslash\\\\ nl\\n tab\\t ctl\\u0001 utf8 é\""));
	EXPECT_TRUE(jq_holds(doc, ".u == 9007199254740991 and .i == -42 and .d == 1.5"));
	EXPECT_TRUE(jq_holds(doc, ".nan == null and .t == true and .z == null and .nullstr == null"));
	EXPECT_TRUE(jq_holds(doc, ".a == [1, {}, []] and .raw.x == [1, 2]"));
	EXPECT_TRUE(jq_holds(doc, "keys | length == 10"));
	/* The checker itself must be able to say no. */
	EXPECT_FALSE(jq_holds(doc, ".u == 1"));
	EXPECT_FALSE(jq_holds("{\"a\":", "."));
	free(doc);
}

static void fill_unbalanced(struct json_writer *w)
{
	json_begin_object(w, NULL);
	json_begin_array(w, "a");
	json_end_object(w);
}

static void fill_extra_close(struct json_writer *w)
{
	json_begin_object(w, NULL);
	json_end_object(w);
	json_end_object(w);
}

TEST(unbalanced_documents_are_errors)
{
	int finish;

	free(build(fill_unbalanced, &finish));
	EXPECT_NE(0, finish);
	free(build(fill_extra_close, &finish));
	EXPECT_NE(0, finish);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

TEST(write_never_overwrites)
{
	char dir[] = "/tmp/json_writer_test.XXXXXX";
	char path[256], back[16] = {};
	FILE *f;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/result.json", dir);

	EXPECT_EQ(0, write_file_noreplace(path, "first", 5));
	EXPECT_EQ(-EEXIST, write_file_noreplace(path, "second", 6));
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	EXPECT_EQ(5, fread(back, 1, sizeof(back) - 1, f));
	fclose(f);
	EXPECT_STREQ("first", back);
	/* No temporary file is left behind, whatever happened. */
	EXPECT_EQ(1, count_entries(dir));

	snprintf(path, sizeof(path), "%s/missing/result.json", dir);
	EXPECT_EQ(-ENOENT, write_file_noreplace(path, "x", 1));

	snprintf(path, sizeof(path), "%s/result.json", dir);
	unlink(path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
