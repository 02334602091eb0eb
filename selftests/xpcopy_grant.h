/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the grant programs, with its harness macros.
 *
 * xpcopy grant tests: XPCOPY_GRANT, _DERIVE, _REVOKE, _INFO, XPCOPY_COPY with
 * XPCOPY_COPY_GRANT and XPCOPY_COPY_PUBLISH, and the grant fd's poll/read.
 *
 * The owner is the process that makes a grant over a window of its memory;
 * a holder is any process with the grant fd. In most tests the test process
 * is the owner, and holders are forked helpers (often with a non-root uid,
 * hence no capability) or fresh images started with execve() that get the fd
 * over SCM_RIGHTS. Helpers never use the harness macros: they check what
 * they can with HCHECK(), which records a message in a MAP_SHARED struct
 * res and makes the helper exit 1, and the test process asserts.
 *
 * Memory of the owner in the small tests: NPAGES pages with the pattern
 * S_OWN and a guard page on each side; the window of a grant is usually
 * the middle pages, so that the pages around it show any stray byte.
 *
 * Each test reaches exactly one error path; the expected errno comes from
 * the tables of include/uapi/linux/xpcopy.h.
 */
#ifndef XPCOPY_GRANT_H
#define XPCOPY_GRANT_H

#include "grant_helpers.h"
#include "xpcopy_test.h"

/* ---------------------------------------------------------------------------
 * The fixture
 */

FIXTURE(grant)
{
	int dev;
	size_t page;
	size_t total;		/* NPAGES pages */
	uint8_t *buf;		/* the owner's pages: pattern S_OWN */
	uint8_t *data;		/* what holders write: pattern S_DATA */
	struct res *r;		/* MAP_SHARED with the helpers */
	pid_t kids[8];
	int nkids;
};

typedef int (*helper_fn)(FIXTURE_DATA(grant) *self, void *arg);

FIXTURE_SETUP(grant)
{
	self->nkids = 0;
	self->dev = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);
	if (self->dev < 0) {
		int e = errno;

		if (e == ENOENT || e == ENODEV || e == ENXIO)
			SKIP(return, "%s absent: %s (xpcopy module not loaded)",
			     XPCOPY_DEV, strerror(e));
		ASSERT_LE(0, self->dev) TH_LOG("open %s: %s", XPCOPY_DEV, strerror(e));
	}
	self->page = (size_t)sysconf(_SC_PAGESIZE);
	self->total = NPAGES * self->page;
	self->buf = xp_map_guarded(self->total);
	self->data = xp_map_guarded(self->total);
	ASSERT_NE(NULL, self->buf);
	ASSERT_NE(NULL, self->data);
	xp_fill(self->buf, self->total, S_OWN, 0);
	xp_fill(self->data, self->total, S_DATA, 0);
	self->r = mmap(NULL, sizeof(struct res), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->r);
	memset(self->r, 0, sizeof(*self->r));
}

FIXTURE_TEARDOWN(grant)
{
	for (int i = 0; i < self->nkids; i++) {
		int status;

		kill(self->kids[i], SIGKILL);
		waitpid(self->kids[i], &status, 0);
	}
	if (self->dev >= 0)
		close(self->dev);
}

/* Fork a helper running fn(self, arg); its exit status is fn's return. */
static inline pid_t spawn(FIXTURE_DATA(grant) *self, helper_fn fn, void *arg)
{
	pid_t pid = xp_fork();

	if (pid == 0)
		_exit(fn(self, arg));
	if (pid > 0 && self->nkids < (int)ARRAY_SIZE(self->kids))
		self->kids[self->nkids++] = pid;
	return pid;
}

/*
 * Wait at most ms for a helper. Returns its exit code; -1 when it timed
 * out (it is killed) or died of a signal, with a note in r->msg.
 */
static inline int reap(FIXTURE_DATA(grant) *self, pid_t pid, int ms)
{
	int64_t end = xp_now_ns() + (int64_t)ms * 1000000LL;
	int status = 0;
	pid_t w;

	if (pid <= 0)
		return -1;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (xp_now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(self->r->msg, sizeof(self->r->msg),
				 "helper %d timed out after %d ms", pid, ms);
			w = -1;
			break;
		}
		usleep(1000);
	}
	for (int i = 0; i < self->nkids; i++)
		if (self->kids[i] == pid)
			self->kids[i--] = self->kids[--self->nkids];
	if (w != pid)
		return -1;
	if (WIFSIGNALED(status)) {
		snprintf(self->r->msg, sizeof(self->r->msg),
			 "helper %d killed by signal %d", pid,
			 WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* The helper pid ran to the end and found nothing wrong. */
#define ASSERT_HELPER_OK(pid, ms)					\
	ASSERT_EQ(0, reap(self, (pid), (ms)))				\
		TH_LOG("helper: %s", self->r->msg)

#define ASSERT_IMAGE(rg, n)						\
	ASSERT_EQ(-1, image_check(self->buf, self->total, (rg), (n)))	\
		TH_LOG("owner memory wrong at the offset shown")

#define ASSERT_OWNER_UNCHANGED() ASSERT_IMAGE(NULL, 0)

#define REQUIRE_ROOT() do {						\
	if (geteuid() != 0)						\
		SKIP(return, "needs root, to drop to other uids");	\
} while (0)

/* Long tests: the harness's own limit, below the runner's 120 s. */
#define GRANT_TIMEOUT	110

#endif /* XPCOPY_GRANT_H */
