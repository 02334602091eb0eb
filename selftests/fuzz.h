/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzer's parts (xpcopy_fuzz.c says what it does): fuzz_target.c
 * (random numbers, memory shuffling, the target image), fuzz_ops.c (the
 * shared state, struct placement, the judge, the commands) and
 * xpcopy_fuzz.c (the threads, the target's cycle, the test).
 */
#ifndef XPCOPY_FUZZ_H
#define XPCOPY_FUZZ_H

#include <pthread.h>
#include <stdarg.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "helpers.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define TARGET_ENV	"XPCOPY_FUZZ_TARGET"

#define NREG		6
#define REG_LEN		(4 * MiB)
#define MAX_THREADS	4
#define SLICE		(1 * MiB)
/* one slice per thread, and one for sequence words */
#define STABLE_LEN	((uint64_t)(MAX_THREADS + 1) * SLICE)
/* Area layout: regions, their alternate slots, three stable areas. */
#define ALT_OFF		((uint64_t)NREG * REG_LEN)
#define SRC_OFF		(2 * ALT_OFF)			/* caller: sources */
#define DST_OFF		(SRC_OFF + STABLE_LEN)		/* caller: read back */
#define TGT_OFF		(DST_OFF + STABLE_LEN)		/* checked copies */
#define AREA_LEN	(TGT_OFF + STABLE_LEN)
/* Target: its grants are at these fd numbers. */
#define T_GRANT_FD	100
#define T_NGRANTS	4
#define T_STABLE_FD	99	/* read-write grant over its TGT area */
#define NFD		48
#define MAX_IOV		(XPCOPY_IOV_MAX + 8)
#define MAX_VIOL	16

struct rng {
	uint64_t seed, ctr;
};

enum fdtype { FD_NONE, FD_GRANT_OWN, FD_GRANT_DERIVED, FD_GRANT_TARGET,
	      FD_PIPE, FD_EVENTFD };

enum { C_FEATURES, C_COPY, C_GRANT, C_DERIVE, C_REVOKE, C_INFO, C_BADCMD,
       C_READ, C_CHECK, C_NR };

#define NERR	134

struct fuzz {
	int dev;
	uint8_t *area;
	uint64_t seed;
	bool soak;
	uint64_t want_copies;
	int64_t deadline;	/* 0: none */
	int nthreads;
	volatile int stop;

	pthread_mutex_t lock;	/* the fd table, the target, violations */
	struct { int fd; enum fdtype type; } fds[NFD];
	int closed_fd;		/* an fd number closed lately */
	int tfd;		/* the target's stable grant, or -1 */
	pid_t target;
	uint64_t tgen;		/* target images started */

	pthread_t th[MAX_THREADS];
	pid_t tid[MAX_THREADS];

	/* counters */
	uint64_t ops[C_NR], err[C_NR][NERR];
	uint64_t copies, bytes, checked, checked_bytes;
	uint64_t ev_shuffle, ev_fork, ev_signal, ev_kill, ev_getfd, ev_copier_kill;
	uint64_t nviol;
	char viol[MAX_VIOL][256];
};

struct tctx {
	int idx;
	struct rng r;
	uint8_t *sbuf;			/* 2 pages RW, then a PROT_NONE page */
	struct xpcopy_iovec *liov, *riov;
	int64_t last_report;
};

/* Where the struct goes and how big it says it is. */
struct sz {
	void *p;	/* pointer passed to the ioctl */
	uint32_t size;	/* what the struct says */
	int expect;	/* the errno the size or pointer alone decides, or 0 */
};

extern struct fuzz F;
extern volatile sig_atomic_t sigs;
extern const char *const cname[C_NR];

uint64_t rnd(struct rng *r);

uint64_t rnd_below(struct rng *r, uint64_t n);

bool chance(struct rng *r, unsigned int pct);

uint64_t rnd_len(struct rng *r, bool soak);

void *at(uint8_t *area, uint64_t off);

void map_fixed(void *addr, size_t len, int prot);

void move_region(void *from, void *to, size_t len);

void shuffle(uint8_t *area, struct rng *r);

void target_exec(uint64_t area, uint64_t seed);

void *target_chaos(void *arg);

int target_grant(int dev, uint8_t *area, struct rng *r, int fdnum,
		 bool stable);

void target_main(const char *spec);

void add(uint64_t *c, uint64_t n);

void violation(const char *fmt, ...);

void fd_add(int fd, enum fdtype type);

int fd_pick(struct rng *r, enum fdtype want, enum fdtype *type);

void fd_close_random(struct rng *r);

int pick_grant_fd(struct rng *r, bool *is_grant);

uint64_t bad_addr(struct rng *r);

uint64_t region_addr(struct rng *r, uint64_t len);

void on_usr1(int sig);

void *place(struct tctx *c, size_t ksize, uint32_t first, struct sz *s);

void set_size(struct sz *s, void *cmd);

int in_set(int e, const int *set);

void judge(struct tctx *c, int cmd, int ret, const struct sz *s,
	   int expect, const int *allowed, const char *what);

void op_features(struct tctx *c);

void op_badcmd(struct tctx *c);

uint64_t fill_iov(struct tctx *c, struct xpcopy_iovec *iov,
		  uint32_t cnt, bool grant, uint64_t wlen, bool *wraps);

uint32_t rnd_cnt(struct tctx *c);

void op_copy(struct tctx *c);

void op_grant(struct tctx *c);

void op_derive(struct tctx *c);

void op_revoke_info(struct tctx *c, bool revoke);

void op_read(struct tctx *c);

int high_fd(int fd, int min);

void op_check(struct tctx *c);

void other_fd(struct tctx *c);

#endif /* XPCOPY_FUZZ_H */
