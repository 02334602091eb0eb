/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a selftest program includes: the helpers (helpers.h), the kselftest
 * harness with its warnings settled, and the few macros that use the
 * harness's ASSERT, EXPECT and SKIP and so belong to test bodies only.
 */
#ifndef XPCOPY_TEST_H
#define XPCOPY_TEST_H

#include "helpers.h"

/* The harness is built here with -Wextra, which it was not written for. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
/*
 * TEST_F() wraps each test in a static inline function that calls setjmp(),
 * so GCC inlines test bodies under it and -Wextra's -Wclobbered flags the
 * harness's own locals and ours. After the longjmp (a failed ASSERT) no
 * local of a test body is used again, so the warning cannot apply.
 */
#pragma GCC diagnostic ignored "-Wclobbered"

/*
 * The runner (scripts/guest/run-tests.sh) runs each case on its own, by
 * the name -r takes, and learns the names from "--xpcopy-cases" rather
 * than from the harness's -l table, whose layout is not an interface:
 * one name a line ("FIXTURE.TEST", or "FIXTURE.VARIANT.TEST"; TEST()s are
 * in fixture "global"), in the order the harness runs them, from the
 * harness's own lists walked as test_harness_run() walks them.
 */
#define XP_CASES_MARKER	"--xpcopy-cases lists the cases"

static inline int xp_list_cases(void)
{
	struct __fixture_variant_metadata no_variant = { .name = "", };
	struct __fixture_variant_metadata *v;
	struct __fixture_metadata *f;
	struct __test_metadata *t;

	for (f = __fixture_list; f; f = f->next)
		for (v = f->variant ?: &no_variant; v; v = v->next)
			for (t = f->tests; t; t = t->next)
				printf("%s%s%s.%s\n", f->name,
				       v->name[0] ? "." : "", v->name,
				       t->name);
	return fflush(stdout) ? KSFT_FAIL : KSFT_PASS;
}

/*
 * The marker tells the runner that the program lists its cases: a line of
 * its own in the binary, which busybox grep finds (the option's string
 * itself may be compiled into compares).
 */
#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN						\
	static const char xp_cases_marker[] __attribute__((used)) =	\
		"\n" XP_CASES_MARKER "\n";				\
	int main(int argc, char **argv)					\
	{								\
		if (argc == 2 && !strcmp(argv[1], "--xpcopy-cases"))	\
			return xp_list_cases();				\
		return test_harness_run(argc, argv);			\
	}

/*
 * Open /dev/xpcopy in a FIXTURE_SETUP; SKIP (with the reason) when the
 * module is not there, fail on any other error.
 */
#define XPCOPY_OPEN_OR_SKIP(fdvar) do {					\
	(fdvar) = open(XPCOPY_DEV, O_RDWR | O_CLOEXEC);			\
	if ((fdvar) < 0) {						\
		int __e = errno;					\
		if (__e == ENOENT || __e == ENODEV || __e == ENXIO)	\
			SKIP(return, "%s: %s (xpcopy module not loaded?)", \
			     XPCOPY_DEV, strerror(__e));		\
		ASSERT_LE(0, (fdvar))					\
			TH_LOG("open %s: %s", XPCOPY_DEV, strerror(__e)); \
	}								\
} while (0)

/* Does XPCOPY_FEATURES report @cap in its caps? */
static inline bool xp_has_cap(int fd, __u64 cap)
{
	struct xpcopy_features f = { .size = sizeof(f) };

	return !ioctl(fd, XPCOPY_FEATURES, &f) && (f.caps & cap);
}

/*
 * Does the kernel take the commands as IORING_OP_URING_CMD? Not before
 * 5.19 (Linux 5.10 has no such opcode): XPCOPY_FEATURES then reports no
 * XPCOPY_CAP_URING_CMD.
 */
static inline bool xp_has_uring_cmd(int fd)
{
	return xp_has_cap(fd, XPCOPY_CAP_URING_CMD);
}

#define XP_NO_URING_CMD "no io_uring commands on this kernel " \
	"(IORING_OP_URING_CMD is Linux 5.19+; XPCOPY_FEATURES reports no " \
	"XPCOPY_CAP_URING_CMD)"

/*
 * In a test or FIXTURE_SETUP that submits commands through io_uring: SKIP,
 * with the reason, when the kernel cannot take them. @fd: /dev/xpcopy.
 */
#define XPCOPY_URING_CMD_OR_SKIP(fd) do {				\
	if (!xp_has_uring_cmd(fd))					\
		SKIP(return, XP_NO_URING_CMD);				\
} while (0)

/*
 * Within @ms milliseconds nothing is pinned by the module, and every pin
 * it took since the counters were @s0 was released; @s1 gets the counters
 * as they are then.
 */
#define XP_EXPECT_PINS_BACK_TO(s0, s1, ms) do {				\
	EXPECT_EQ(0ULL, xp_wait_unpinned(ms)) TH_LOG("pages still pinned"); \
	ASSERT_EQ(0, xp_stats_read(&(s1)));				\
	EXPECT_EQ((s1).pins_taken - (s0).pins_taken,			\
		  (s1).pins_released - (s0).pins_released)		\
		TH_LOG("pins taken and pins released differ");		\
} while (0)

#define XP_EXPECT_PINS_BACK(s0, ms) do {				\
	struct xp_stats __s1 = { 0 };					\
									\
	XP_EXPECT_PINS_BACK_TO(s0, __s1, ms);				\
} while (0)

/*
 * In a test whose fixture has a struct xp_target t and a void *uffd_region:
 * SKIP unless userfaultfd works here, then map uffd_region (XP_UFFD_LEN
 * bytes) and start the target with it registered and unserved.
 */
#define XP_START_UFFD_TARGET() do {					\
	const char *__stage;						\
	int __fd;							\
									\
	self->uffd_region = xp_map(XP_UFFD_LEN, PROT_READ | PROT_WRITE); \
	ASSERT_NE(NULL, self->uffd_region);				\
	__fd = xp_uffd_register(self->uffd_region, XP_UFFD_LEN, &__stage); \
	if (__fd < 0)							\
		SKIP(return, "userfaultfd unavailable: %s: %s",		\
		     __stage, strerror(-__fd));				\
	close(__fd);	/* a probe; the target opens its own */		\
	ASSERT_EQ(0, xp_target_start(&self->t, NULL, 0,			\
				     xp_uffd_target_setup,		\
				     self->uffd_region));		\
} while (0)

#endif /* XPCOPY_TEST_H */
