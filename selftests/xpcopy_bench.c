// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark runs: xpcopy-bench --quick emits JSON with a verified record
 * of every method it lists, the xpcopy ones included when the module is
 * loaded. No timing is judged; that is the benchmark's business.
 */
#include <sys/stat.h>

#include "xpcopy_test.h"

/* TEST() hands every test a variant it does not use. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define BENCH	"xpcopy-bench"
#define JSON	"/tmp/xpcopy-bench-quick.json"

/* Run a command line through sh; its exit status, or -1. */
static int run(const char *cmd)
{
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
	struct stat sb;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) || !(buf = calloc(1, sb.st_size + 1)) ||
	    read(fd, buf, sb.st_size) != sb.st_size) {
		close(fd);
		return NULL;
	}
	close(fd);
	return buf;
}

/* How many times @needle occurs in @hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

TEST(quick_json_has_every_method)
{
	char methods[4096] = "", line[256], key[128];
	char *json, *save = NULL, *m;
	FILE *list;
	size_t len = 0;
	bool uring = true;
	int n = 0, fd;

	if (run("command -v " BENCH " >/dev/null") != 0)
		SKIP(return, BENCH " is not on PATH (make userspace)");
	list = popen(BENCH " --list-methods", "r");
	ASSERT_NE(NULL, list);
	while (fgets(line, sizeof(line), list)) {
		char name[64];

		if (sscanf(line, "%63s", name) == 1 &&
		    len + strlen(name) + 2 < sizeof(methods))
			len += sprintf(methods + len, "%s ", name);
	}
	ASSERT_EQ(0, pclose(list));
	ASSERT_LT(0, (int)len) TH_LOG("no method listed");

	fd = open("/dev/xpcopy", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		uring = xp_has_uring_cmd(fd);
		close(fd);
	}
	unlink(JSON);
	ASSERT_EQ(0, run(BENCH " --quick -q --json " JSON " >/tmp/xpcopy-bench.out 2>&1"))
		TH_LOG("xpcopy-bench --quick failed; see /tmp/xpcopy-bench.out");
	json = slurp(JSON);
	ASSERT_NE(NULL, json) TH_LOG("no JSON at %s", JSON);
	EXPECT_EQ(1, count(json, "\"header\""));
	EXPECT_EQ(1, count(json, "\"results\""));
	EXPECT_EQ(0, count(json, "\"verified\": false"));

	for (m = strtok_r(methods, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
		bool xp = !strncmp(m, "xpcopy", 6);

		snprintf(key, sizeof(key), "\"method\": \"%s\"", m);
		/* Each method has its status line and its result records. */
		if (xp && access("/dev/xpcopy", F_OK)) {
			TH_LOG("%s: /dev/xpcopy absent, not required", m);
			continue;
		}
		/* xpcopy-uring and xpcopy-msgs submit through io_uring. */
		if (xp && (strstr(m, "-uring") || strstr(m, "-msgs")) &&
		    !uring) {
			TH_LOG("%s: %s, not required", m, XP_NO_URING_CMD);
			EXPECT_LE(1, count(json, "no io_uring commands on this kernel"))
				TH_LOG("the bench does not say why it skipped %s", m);
			continue;
		}
		EXPECT_LE(2, count(json, key)) TH_LOG("no result for %s", m);
		n++;
	}
	EXPECT_LE(5, n);
	free(json);
}

TEST_HARNESS_MAIN
