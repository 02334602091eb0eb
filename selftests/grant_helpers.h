/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the grant programs (xpcopy_grant, xpcopy_grant_copy,
 * xpcopy_grant_publish) share and their forked or executed helpers may
 * use: constants, the grant commands, patterns of big buffers, the
 * report of a helper (struct res, HCHECK). Defined in grant_helpers.c.
 */
#ifndef XPCOPY_GRANT_HELPERS_H
#define XPCOPY_GRANT_HELPERS_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "helpers.h"

#define NPAGES		4		/* owner pages of the small tests */
#define BIG		(64 * MiB)	/* the copies that are cut short */

#define S_OWN		0x0a11ceULL	/* the owner's memory */
#define S_DATA		0x0da7a0ULL	/* what holders write */
#define S_VICTIM	0x0f1c7aULL	/* the image after the owner's exec */

#define UID_A		1000
#define UID_B		2000

#define XP_COPIED_POISON		0xdeadbeefcafef00dULL

/* The address both images of the exec test map their window at. */
#define EXEC_ADDR	0x5a5a00000000ULL

#define HELPER_ENV	"XPCOPY_GRANT_HELPER"

#define GR		XPCOPY_GRANT_READ
#define GW		XPCOPY_GRANT_WRITE
#define GRW		(XPCOPY_GRANT_READ | XPCOPY_GRANT_WRITE)
#define CW		XPCOPY_COPY_WRITE
#define CR		XPCOPY_COPY_READ
#define CP		XPCOPY_COPY_PUBLISH

/*
 * The owner's memory after some copies: pattern S_OWN everywhere except the
 * regions (ascending, disjoint), each holding bytes start.. of its pattern.
 */
struct region {
	size_t at, len;
	uint64_t seed, start;
};

/*
 * What helpers report: a message saying what was wrong, and values for the
 * test process to assert on. Lives in MAP_SHARED memory.
 */
struct res {
	char msg[1024];
	int ret[8];
	__u64 copied[8];
	long long diff[8];
	__u64 val[8];
};

/* What scm_rights_exec asks and hears back. */
struct scm_req {
	__u64 off, len, seed;
	__s32 owner;
	__u32 pad;
};

struct scm_rep {
	__s32 setup;		/* 0, or -errno of a step before the copies */
	__s32 had_fd;		/* 1 if an fd came with the request */
	__s32 wret, rret, pidret, revret;
	__u64 wcopied, rcopied;
	__s64 rdiff;		/* first wrong byte read back, -1 if none */
	__u32 rights;		/* XPCOPY_GRANT_INFO of the fd received */
	__u32 pad;
};

struct holder_arg {
	int gfd;
	int fd2;
};

struct reader {
	int fd;
	ssize_t n;
	int err;
	__u64 val;
};

/*
 * The cheap pattern of the big buffers: 64-bit word k is seed ^ (k * odd).
 * Offsets and lengths are multiples of 8.
 */
void big_fill(void *buf, size_t len, uint64_t seed);

long long big_check(const void *buf, size_t len, uint64_t seed);

/* Offset of the first non-zero byte, or -1. */
long long zero_check(const void *buf, size_t len);

long long image_check(const void *buf, size_t total,
		      const struct region *rg, int n);

/* XPCOPY_GRANT with raw values: the fd, or -errno. */
int grant_raw(int dev, __u32 flags, __u64 addr, __u64 len,
	      __u64 seq_addr, int efd);

int grant(int dev, __u32 flags, const void *addr, __u64 len);

/* A grant with a sequence word (and an eventfd when efd > 0). */
int grant_seq(int dev, __u32 flags, const void *addr, __u64 len,
	      const __u64 *seq, int efd);

int derive(int dev, int gfd, __u32 flags, __u64 off, __u64 len);

int grant_revoke(int dev, int gfd);

int info(int dev, int gfd, struct xpcopy_grant_info *in);

/* XPCOPY_COPY through a grant; *copied gets the field as the kernel left it. */
int gcopyv(int dev, __u32 flags, int gfd,
	   const struct xpcopy_iovec *l, __u32 lcnt,
	   const struct xpcopy_iovec *rv, __u32 rcnt, __u64 seq,
	   __u64 *copied);

/* One range each side, len bytes at window offset off. */
int gcopy(int dev, __u32 flags, int gfd, const void *local, __u64 len,
	  __u64 off, __u64 seq, __u64 *copied);

/* XPCOPY_COPY in pid mode. */
int pcopy(int dev, __u32 flags, pid_t pid, const void *local,
	  __u64 len, __u64 raddr, __u64 *copied);

unsigned int batch_pages(int dev);

/*
 * Become @uid (and gid) with no supplementary group and, as a non-root uid,
 * no capability. Returns 0 or -errno.
 */
int drop_to(uid_t uid);

void __attribute__((format(printf, 4, 5)))
hfail(struct res *r, int line, const char *cond, const char *fmt, ...);

void *reader_thread(void *arg);

/* Join within ms; false if the thread is still blocked. */
bool join_ms(pthread_t t, int ms);

short poll_now(int fd);

/* Replace this process with a helper image of this binary. */
int exec_helper(const char *mode, int sock, const char *k2,
		unsigned long long v2);

/* In a helper returning int, with a struct res *r in scope. */
#define HCHECK(cond, fmt, ...) do {					\
	if (!(cond)) {							\
		hfail(r, __LINE__, #cond, fmt, ##__VA_ARGS__);		\
		return 1;						\
	}								\
} while (0)

#endif /* XPCOPY_GRANT_HELPERS_H */
