// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy(1) tests, and the example program built against the installed
 * library.
 *
 * Fixture "cli" runs the xpcopy tool found on PATH (the test guest has
 * build/userspace/bin there) and skips when there is none.
 *
 * Forked helpers never use the harness macros: they report through their
 * exit status, and the test process asserts.
 */
#include <sys/stat.h>

#include "xpcopy_test.h"
/* TEST() (without a fixture) has a parameter it does not use. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define S_B		0x11b0b2ULL	/* pattern seeds */
#define S_MSG		0x3e55a6eULL

/* ---------------------------------------------------------------------------
 * xpcopy(1), when it is on PATH
 */

FIXTURE(cli)
{
	char path[PATH_MAX];
	char tmp[PATH_MAX];	/* a directory of ours */
	struct xp_target t;
};

static bool find_in_path(const char *name, char *out, size_t len)
{
	const char *p = getenv("PATH");

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n && n + strlen(name) + 2 <= len) {
			snprintf(out, len, "%.*s/%s", (int)n, p, name);
			if (access(out, X_OK) == 0)
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

FIXTURE_SETUP(cli)
{
	const char *tmpdir = getenv("TMPDIR");

	xp_target_init(&self->t);
	self->tmp[0] = 0;
	if (!find_in_path("xpcopy", self->path, sizeof(self->path)))
		SKIP(return, "no xpcopy on PATH (build/userspace/bin)");
	if (access(XPCOPY_DEV, F_OK))
		SKIP(return, "%s: %s (xpcopy module not loaded?)",
		     XPCOPY_DEV, strerror(errno));
	snprintf(self->tmp, sizeof(self->tmp), "%s/xpcopy_lib.XXXXXX",
		 tmpdir ? tmpdir : "/tmp");
	ASSERT_NE(NULL, mkdtemp(self->tmp));
}

FIXTURE_TEARDOWN(cli)
{
	xp_target_kill(&self->t);
	if (self->tmp[0]) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->tmp);
		if (system(cmd))
			TH_LOG("could not remove %s", self->tmp);
	}
}

/*
 * Run xpcopy with the arguments after @errlen (NULL-terminated); its
 * stdout into @out (NUL-terminated, truncated to @len), its stderr into
 * @err. Returns the exit status, 128 + the signal, or -errno.
 */
static int run_xpcopy(const char *bin, const char *dir, char *out, size_t len,
		      char *err, size_t errlen, ...)
{
	char opath[PATH_MAX + 8], epath[PATH_MAX + 8];
	char *argv[32];
	int ofd, efd, status, i = 0;
	va_list ap;
	ssize_t n;
	pid_t pid;

	argv[i++] = "xpcopy";
	va_start(ap, errlen);
	while (i < 31 && (argv[i] = va_arg(ap, char *)))
		i++;
	va_end(ap);
	argv[i] = NULL;
	snprintf(opath, sizeof(opath), "%s/stdout", dir);
	snprintf(epath, sizeof(epath), "%s/stderr", dir);
	ofd = open(opath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	efd = open(epath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ofd < 0 || efd < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(bin, argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	n = pread(ofd, out, len - 1, 0);
	out[n > 0 ? n : 0] = 0;
	n = pread(efd, err, errlen - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(ofd);
	close(efd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* xpcopy ARGS... in a cli test; out and err are arrays of the test. */
#define XPCOPY(...)	run_xpcopy(self->path, self->tmp, out, sizeof(out), \
				   err, sizeof(err), __VA_ARGS__, NULL)

/*
 * Valid-looking JSON: one object, brackets balanced outside strings,
 * strings closed, nothing after it but a newline.
 */
static bool json_looks_valid(const char *s)
{
	int depth = 0;
	bool in_str = false;
	const char *p = s;

	while (*p == ' ' || *p == '\n')
		p++;
	if (*p != '{')
		return false;
	for (; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
			else if ((unsigned char)*p < 0x20)
				return false;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return false;
			if (depth == 0)
				break;
		}
	}
	if (depth || in_str || !*p)
		return false;
	for (p++; *p; p++)
		if (*p != '\n' && *p != ' ')
			return false;
	return true;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ret;

	if (fd < 0)
		return -errno;
	ret = xp_write_full(fd, buf, len);
	close(fd);
	return ret;
}

/* Read a whole file of exactly @len bytes; -EMSGSIZE if it differs. */
static int read_file(const char *path, void *buf, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (size_t)st.st_size != len) {
		close(fd);
		return -EMSGSIZE;
	}
	ret = xp_read_full(fd, buf, len);
	close(fd);
	return ret;
}

/*
 * A --json command's output: it succeeded (@ret 0), its stdout @out is
 * valid-looking JSON, and holds each string of the NULL-terminated @keys.
 */
static void json_ok(struct __test_metadata *_metadata, int ret,
		    const char *out, const char *err, const char *const *keys)
{
	ASSERT_EQ(0, ret) TH_LOG("stderr: %s", err);
	ASSERT_TRUE(json_looks_valid(out)) TH_LOG("stdout: %s", out);
	for (; *keys; keys++)
		ASSERT_NE(NULL, strstr(out, *keys)) TH_LOG("stdout: %s", out);
}

TEST_F(cli, features_json)
{
	char out[4096], err[4096], abi[32];
	int ret;

	snprintf(abi, sizeof(abi), "\"abi_version\":%u", XPCOPY_ABI_VERSION);
	ret = XPCOPY("features", "--json");
	json_ok(_metadata, ret, out, err, (const char *const[]){
		abi, "\"ok\":true", "\"GRANT_INFO\"", "\"caps_mask\":",
		"\"GRANT_PIN\"", NULL });
	ASSERT_EQ(0, err[0]);

	/* The plain form, and --json before the command. */
	ret = XPCOPY("features");
	ASSERT_EQ(0, ret) TH_LOG("stderr: %s", err);
	ASSERT_NE(NULL, strstr(out, "abi_version"));
	ASSERT_NE(NULL, strstr(out, "GRANT_PIN")) TH_LOG("stdout: %s", out);
	ret = XPCOPY("--json", "features");
	json_ok(_metadata, ret, out, err, (const char *const[]){ NULL });
}

TEST_F(cli, stats_json)
{
	char out[8192], err[4096];
	int ret;

	ret = XPCOPY("stats", "--json");
	json_ok(_metadata, ret, out, err, (const char *const[]){
		"\"copies\":", "\"batch_pages\":", NULL });
}

#define CLI_LEN	(3 * 1024 * 1024 + 123)	/* four 1 MiB chunks */

TEST_F_TIMEOUT(cli, copy_file_to_child_and_back, 120)
{
	uint8_t *remote = xp_map_guarded(CLI_LEN);
	uint8_t *data = malloc(CLI_LEN), *back = malloc(CLI_LEN);
	char in[PATH_MAX + 8], outf[PATH_MAX + 8], spec[64], tail[64];
	char len[32], out[4096], err[4096];
	uint64_t end, off;
	int ret;

	ASSERT_NE(NULL, remote);
	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, back);
	memset(remote, 0, CLI_LEN);
	xp_fill(data, CLI_LEN, S_B, 0);
	snprintf(in, sizeof(in), "%s/in", self->tmp);
	snprintf(outf, sizeof(outf), "%s/out", self->tmp);
	ASSERT_EQ(0, write_file(in, data, CLI_LEN));
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	snprintf(spec, sizeof(spec), "%d:0x%llx", self->t.pid,
		 (unsigned long long)xp_ptr(remote));
	snprintf(len, sizeof(len), "%d", CLI_LEN);

	/* The file into the child: all of it, in 1 MiB chunks. */
	ret = XPCOPY("copy", "--from", in, "--to", spec, "--chunk", "1M",
		     "--json");
	json_ok(_metadata, ret, out, err, (const char *const[]){
		"\"complete\":true", "\"chunks\":4", NULL });
	ASSERT_EQ(-1, xp_target_patcheck(&self->t, xp_ptr(remote), CLI_LEN,
					 S_B, 0));

	/* And back out of it, into another file. */
	ret = XPCOPY("copy", "--from", spec, "--len", len, "--to", outf);
	ASSERT_EQ(0, ret) TH_LOG("stderr: %s", err);
	ASSERT_NE(NULL, strstr(out, "copied"));
	ASSERT_EQ(0, read_file(outf, back, CLI_LEN));
	ASSERT_EQ(-1, xp_cmp(back, data, CLI_LEN));

	/* Short: 1 MiB from the last page of the child's mapping. */
	end = xp_ptr(remote) + ((CLI_LEN + xp_page_size() - 1) &
				~(uint64_t)(xp_page_size() - 1));
	snprintf(tail, sizeof(tail), "%d:0x%llx", self->t.pid,
		 (unsigned long long)(end - xp_page_size()));
	ret = XPCOPY("copy", "--from", tail, "--len", "1M", "--to", outf,
		     "--json");
	ASSERT_EQ(3, ret) TH_LOG("stdout: %s stderr: %s", out, err);
	ASSERT_NE(NULL, strstr(err, "short copy")) TH_LOG("%s", err);
	ASSERT_TRUE(json_looks_valid(out)) TH_LOG("stdout: %s", out);
	ASSERT_NE(NULL, strstr(out, "\"complete\":false"));
	/* What there was: the file's last bytes, then zeros. */
	off = end - xp_page_size() - xp_ptr(remote);
	ASSERT_EQ(0, read_file(outf, back, xp_page_size()));
	ASSERT_EQ(-1, xp_cmp(back, data + off, CLI_LEN - off));
	for (size_t i = CLI_LEN - off; i < xp_page_size(); i++)
		ASSERT_EQ(0, back[i]);
}

TEST_F(cli, copy_errors_are_one_line)
{
	char in[PATH_MAX + 8], spec[64], out[4096], err[4096];
	int status, ret;
	pid_t pid;

	snprintf(in, sizeof(in), "%s/in", self->tmp);
	ASSERT_EQ(0, write_file(in, "hello", 5));

	/* A reaped pid: ESRCH, one line on stderr, JSON on stdout. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	snprintf(spec, sizeof(spec), "%d:0x10000", pid);
	ret = XPCOPY("copy", "--from", in, "--to", spec, "--json");
	ASSERT_EQ(1, ret);
	ASSERT_NE(NULL, strstr(err, "ESRCH: ")) TH_LOG("%s", err);
	ASSERT_EQ(strlen(err) - 1, (size_t)(strchr(err, '\n') - err))
		TH_LOG("not one line: %s", err);
	ASSERT_TRUE(json_looks_valid(out)) TH_LOG("stdout: %s", out);
	ASSERT_NE(NULL, strstr(out, "\"errno\":\"ESRCH\""));

	/* A kernel address in a live process: EFAULT. */
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0, NULL, NULL));
	snprintf(spec, sizeof(spec), "%d:0x%llx", self->t.pid,
		 (unsigned long long)XP_KERNEL_ADDR);
	ret = XPCOPY("copy", "--from", in, "--to", spec);
	ASSERT_EQ(1, ret);
	ASSERT_NE(NULL, strstr(err, "EFAULT: ")) TH_LOG("%s", err);

	/* Usage errors: status 2. */
	ret = XPCOPY("copy", "--from", in, "--to", in);
	ASSERT_EQ(2, ret);
	ret = XPCOPY("copy", "--from", spec, "--to", in);
	ASSERT_EQ(2, ret);
	ret = XPCOPY("no-such-command");
	ASSERT_EQ(2, ret);
}

/*
 * xpcopy grant runs a command with the grant fd; the command is xpcopy
 * copy --grant-fd, which writes a file into the window and publishes; the
 * same with the window pinned (--pin).
 */
TEST_F_TIMEOUT(cli, grant_runs_a_command, 120)
{
	enum { WIN = 64 * 1024, OFF = 4096, LEN = 10000 };
	uint8_t *data = malloc(LEN), *win = malloc(WIN);
	char in[PATH_MAX + 8], saved[PATH_MAX + 8], script[PATH_MAX * 3];
	char out[16384], err[4096], *j;
	int ret;

	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, win);
	xp_fill(data, LEN, S_MSG, 0);
	snprintf(in, sizeof(in), "%s/in", self->tmp);
	snprintf(saved, sizeof(saved), "%s/window", self->tmp);
	ASSERT_EQ(0, write_file(in, data, LEN));
	snprintf(script, sizeof(script),
		 "exec '%s' copy --from '%s' --grant-fd \"$XPCOPY_GRANT_FD:%d\" --publish 7",
		 self->path, in, OFF);
	/* Once as it is, once pinned (--pin): the same bytes land. */
	for (int pin = 0; pin < 2; pin++) {
		ret = pin ? XPCOPY("grant", "--size", "64K", "--pin", "--out",
				   saved, "--json", "--", "sh", "-c", script) :
			    XPCOPY("grant", "--size", "64K", "--out", saved,
				   "--json", "--", "sh", "-c", script);
		ASSERT_EQ(0, ret) TH_LOG("pin %d stdout: %s stderr: %s", pin,
					 out, err);
		/* The command's own line comes first, then the grant's JSON. */
		j = strstr(out, "{\"command\":\"grant\"");
		ASSERT_NE(NULL, j) TH_LOG("stdout: %s", out);
		ASSERT_TRUE(json_looks_valid(j)) TH_LOG("%s", j);
		ASSERT_NE(NULL, strstr(j, "\"seq_word\":7")) TH_LOG("%s", j);
		ASSERT_NE(NULL, strstr(j, "\"exit_status\":0"));
		memset(win, 0xee, WIN);
		ASSERT_EQ(0, read_file(saved, win, WIN));
		for (int i = 0; i < OFF; i++)
			ASSERT_EQ(0, win[i]);
		ASSERT_EQ(-1, xp_cmp(win + OFF, data, LEN));
		for (int i = OFF + LEN; i < WIN; i++)
			ASSERT_EQ(0, win[i]);
	}

	/* The command's status is passed on. */
	ret = XPCOPY("grant", "--size", "4K", "--dump", "0", "--", "sh", "-c",
		     "exit 5");
	ASSERT_EQ(5, ret) TH_LOG("stderr: %s", err);
}

/*
 * userspace/examples/lib-copy.c, built against the installed library with
 * pkg-config --cflags --libs xpcopy (userspace/Makefile), runs: it writes a
 * string into a child and the child checks it.
 */
TEST(pkgconfig_program_runs)
{
	if (access("/dev/xpcopy", F_OK))
		SKIP(return, "/dev/xpcopy absent: the module is not loaded");
	if (system("command -v lib-copy >/dev/null"))
		SKIP(return, "lib-copy is not on PATH (make userspace)");
	ASSERT_EQ(0, system("lib-copy"));
}

TEST_HARNESS_MAIN
