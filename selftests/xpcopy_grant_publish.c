// SPDX-License-Identifier: GPL-2.0
/*
 * xpcopy grant tests: ordered completion: XPCOPY_COPY_PUBLISH and the
 * sequence word, the grant fd's poll and read, its eventfd, and ordering
 * under load.
 * xpcopy_grant.h describes the fixture and the helpers.
 */
#include "xpcopy_grant.h"

/* ---------------------------------------------------------------------------
 * Ordered completion: XPCOPY_COPY_PUBLISH, poll, read, eventfd
 */

/* The data, then the word; the fd polls readable until read. */
TEST_F(grant, publish_basic)
{
	struct region rg[] = { { self->page + 16, 200, S_DATA, 0 } };
	__u64 seqw = 0, copied, v;	/* outside the window */
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 200, 16, 7,
			   &copied));
	ASSERT_EQ(200ULL, copied);
	ASSERT_EQ(7ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_IMAGE(rg, 1);
	ASSERT_EQ(POLLIN, poll_now(gfd) & (POLLIN | POLLERR));
	ASSERT_EQ((ssize_t)sizeof(v), read(gfd, &v, sizeof(v)));
	ASSERT_EQ(7ULL, v);
	ASSERT_EQ(0, poll_now(gfd));
	/* Without PUBLISH the word is left alone. */
	__atomic_store_n(&seqw, 0, __ATOMIC_RELAXED);
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 8, 0, 0, &copied));
	ASSERT_EQ(0ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
}

/* A sequence word inside the window works as well. */
TEST_F(grant, publish_word_in_window)
{
	__u64 *seqw = (__u64 *)(self->buf + self->page);
	__u64 copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 100, 8, 99,
			   &copied));
	ASSERT_EQ(99ULL, __atomic_load_n(seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(-1, xp_check(self->buf + self->page + 8, 100, S_DATA, 0));
}

TEST_F(grant, publish_without_seq)
{
	__u64 copied;
	int gfd;

	gfd = grant(self->dev, GW, self->buf + self->page, self->page);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW | CP, gfd, self->data, 100, 0,
				 1, &copied));
	ASSERT_EQ(XP_COPIED_POISON, copied);
	ASSERT_OWNER_UNCHANGED();
}

/* A value to publish without PUBLISH; PUBLISH in pid mode. */
TEST_F(grant, publish_flag_misuse)
{
	__u64 seqw = 0, copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(-EINVAL, gcopy(self->dev, CW, gfd, self->data, 100, 0, 5,
				 &copied));
	ASSERT_EQ(-EINVAL, pcopy(self->dev, CW | CP, getpid(), self->data,
				 100, xp_ptr(self->buf), &copied));
	ASSERT_EQ(0ULL, seqw);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_OWNER_UNCHANGED();
}

/* A copy that fails (local range unmapped) does not publish. */
TEST_F(grant, publish_failed_copy)
{
	__u64 seqw = 0x5555, copied, v;
	struct xpcopy_grant_info in;
	int gfd, efd;
	void *gone = xp_map(self->page, PROT_READ | PROT_WRITE);

	ASSERT_NE(NULL, gone);
	ASSERT_EQ(0, munmap(gone, self->page));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, efd);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, fcntl(gfd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-EFAULT, gcopy(self->dev, CW | CP, gfd, gone, 100, 0, 9,
				 &copied));
	ASSERT_EQ(0x5555ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(-1, read(efd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0ULL, in.seq);
	ASSERT_OWNER_UNCHANGED();
}

/* A copy cut short (the local range ends in a PROT_NONE page) neither. */
TEST_F(grant, publish_short_copy)
{
	__u64 seqw = 0x5555, copied;
	struct region rg[] = { { self->page, self->page, S_DATA,
				 3 * self->page } };
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page,
			2 * self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	/* The last page of data, then its guard page. */
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd,
			   self->data + 3 * self->page, 2 * self->page, 0, 9,
			   &copied));
	ASSERT_EQ((__u64)self->page, copied);
	ASSERT_EQ(0x5555ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_IMAGE(rg, 1);
}

/* Nor does a copy through a revoked grant. */
TEST_F(grant, publish_revoked)
{
	__u64 seqw = 0x5555, copied;
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, grant_revoke(self->dev, gfd));
	ASSERT_EQ(-ESTALE, gcopy(self->dev, CW | CP, gfd, self->data, 100, 0,
				 9, &copied));
	ASSERT_EQ(0x5555ULL, seqw);
	ASSERT_OWNER_UNCHANGED();
}

/*
 * The word stops being writable after the grant was made: the data still
 * lands, nothing is published. The header says a copy fails only when
 * nothing was copied, but also that a publication stores the word; which
 * of 0 (full count, no publication) or EFAULT the module answers is logged.
 */
TEST_F(grant, publish_word_unwritable)
{
	struct region rg[] = { { self->page, 100, S_DATA, 0 } };
	struct xpcopy_grant_info in;
	__u64 *seqw, copied;
	int gfd, ret;

	seqw = xp_map(self->page, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, seqw);
	*seqw = 0x5555;
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, mprotect(seqw, self->page, PROT_READ));
	ret = gcopy(self->dev, CW | CP, gfd, self->data, 100, 0, 9, &copied);
	if (ret == 0) {
		ASSERT_EQ(100ULL, copied);
	} else {
		ASSERT_EQ(-EFAULT, ret);
	}
	TH_LOG("PUBLISH with an unwritable word: %s",
	       ret ? "EFAULT, after the data was copied" : "0, full count");
	ASSERT_IMAGE(rg, 1);
	ASSERT_EQ(0x5555ULL, *seqw);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(0, info(self->dev, gfd, &in));
	ASSERT_EQ(0ULL, in.seq);
}

/* A derived grant publishes into the original's word and wakes its fd. */
TEST_F(grant, publish_through_derived)
{
	__u64 seqw = 0, copied, v;
	int gfd, dfd;

	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, 0);
	ASSERT_LE(0, gfd);
	dfd = derive(self->dev, gfd, GW, 64, 64);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, dfd, self->data, 64, 0, 3,
			   &copied));
	ASSERT_EQ(3ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
	ASSERT_EQ(POLLIN, poll_now(gfd) & (POLLIN | POLLERR));
	ASSERT_EQ(POLLIN, poll_now(dfd) & (POLLIN | POLLERR));
	/* Each fd has its own "read since" state. */
	ASSERT_EQ((ssize_t)sizeof(v), read(gfd, &v, sizeof(v)));
	ASSERT_EQ(3ULL, v);
	ASSERT_EQ(0, poll_now(gfd));
	ASSERT_EQ(POLLIN, poll_now(dfd) & (POLLIN | POLLERR));
	ASSERT_EQ(-1, xp_check(self->buf + self->page + 64, 64, S_DATA, 0));
}

/* An eventfd attached at creation counts publications. */
TEST_F(grant, publish_eventfd)
{
	__u64 seqw = 0, copied, v;
	int gfd, efd;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	gfd = grant_seq(self->dev, GW, self->buf + self->page, self->page,
			&seqw, efd);
	ASSERT_LE(0, gfd);
	/* The grant holds the eventfd: closing ours changes nothing. */
	ASSERT_EQ(0, close(dup(efd)));
	for (__u64 i = 1; i <= 3; i++) {
		ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 16,
				   0, i, &copied));
	}
	/* Not without PUBLISH. */
	ASSERT_EQ(0, gcopy(self->dev, CW, gfd, self->data, 16, 0, 0,
			   &copied));
	ASSERT_EQ((ssize_t)sizeof(v), read(efd, &v, sizeof(v)));
	ASSERT_EQ(3ULL, v);
	ASSERT_EQ(-1, read(efd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(3ULL, seqw);
}

TEST_F(grant, read_short_count)
{
	__u64 seqw = 0, copied;
	uint8_t b[8];
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 1,
			   &copied));
	ASSERT_EQ(-1, read(gfd, b, 7));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, read(gfd, b, 0));
	ASSERT_EQ(EINVAL, errno);
	/* The value is still there for a proper read. */
	ASSERT_EQ(POLLIN, poll_now(gfd) & POLLIN);
	ASSERT_EQ(8, read(gfd, b, 8));
}

TEST_F(grant, read_nonblock)
{
	__u64 seqw = 0, copied, v, vv[2];
	int gfd;

	gfd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	ASSERT_EQ(0, fcntl(gfd, F_SETFL, O_NONBLOCK));
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
	/* Two publications: read gives the last, once. */
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 5,
			   &copied));
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, gfd, self->data, 8, 0, 6,
			   &copied));
	memset(vv, 0, sizeof(vv));
	ASSERT_EQ(8, read(gfd, vv, sizeof(vv))) TH_LOG("a read gives 8 bytes");
	ASSERT_EQ(6ULL, vv[0]);
	ASSERT_EQ(-1, read(gfd, &v, sizeof(v)));
	ASSERT_EQ(EAGAIN, errno);
}

/* A blocking read waits for the next publication. */
TEST_F(grant, read_blocks_until_publish)
{
	struct reader rd = { .n = 1234 };
	__u64 seqw = 0, copied;
	pthread_t t;

	rd.fd = grant_seq(self->dev, GW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, rd.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, reader_thread, &rd));
	xp_sleep_ms(100);
	ASSERT_FALSE(join_ms(t, 1)) TH_LOG("read() returned %zd with "
					   "nothing published", rd.n);
	ASSERT_EQ(0, gcopy(self->dev, CW | CP, rd.fd, self->data, 8, 0, 77,
			   &copied));
	ASSERT_TRUE(join_ms(t, 20000)) TH_LOG("read() still blocked");
	ASSERT_EQ(8, rd.n);
	ASSERT_EQ(77ULL, rd.val);
}

/* ---------------------------------------------------------------------------
 * Ordered completion under load
 *
 * A writer (another process, another uid) sends OM_MSGS messages into a
 * ring of OM_SLOTS slots in the owner's window, message i into slot
 * i % OM_SLOTS with one XPCOPY_COPY_PUBLISH of seq = i. The owner waits
 * with poll() and read() on the grant fd, loads the sequence word with
 * acquire ordering, and checks every message up to the value it saw:
 * index, length, checksum and every payload word. A message seen before
 * all its bytes landed would show the previous occupant of its slot.
 * Flow control: the owner writes the count it consumed into a pipe every
 * OM_ACK_EVERY messages; the writer never runs more than OM_SLOTS ahead.
 *
 * A small message is copied and published in the writer's own context (no
 * hand-off to a worker): 100000 take a few seconds in a QEMU TCG guest.
 * The writer still stops after OM_BUDGET_MS so a slow machine fails with a
 * count rather than a timeout; the test asks for all OM_MSGS.
 */
#ifndef OM_MSGS
#define OM_MSGS		100000ULL
#endif
#define OM_MIN		OM_MSGS
#define OM_BUDGET_MS	60000
#define OM_SLOTS	128
#define OM_SLOT		256
#define OM_ACK_EVERY	16
#define OM_WORDS	((OM_SLOT - 16) / 8)

struct om_msg {
	__u64 idx;
	__u32 len;		/* bytes, header included: 64..256 */
	__u32 sum;
	__u64 w[OM_WORDS];
};

static __u32 om_len(__u64 i)
{
	return 64 + 8 * (__u32)(i * 37 % 25);
}

static __u32 om_sum(const struct om_msg *m, __u32 nw)
{
	__u64 h = 0xcbf29ce484222325ULL ^ m->idx ^ ((__u64)m->len << 40);

	for (__u32 k = 0; k < nw; k++)
		h = (h ^ m->w[k]) * 0x100000001b3ULL;
	return (__u32)(h ^ (h >> 32));
}

static __u32 om_build(struct om_msg *m, __u64 i)
{
	__u32 nw;

	m->idx = i;
	m->len = om_len(i);
	nw = (m->len - 16) / 8;
	for (__u32 k = 0; k < nw; k++)
		m->w[k] = xp_mix(i, k);
	m->sum = om_sum(m, nw);
	return m->len;
}

/* NULL when the slot holds message i whole; else what is wrong. */
static const char *om_check(const struct om_msg *m, __u64 i)
{
	__u32 nw;

	if (m->idx != i)
		return "index (the slot holds another message)";
	if (m->len != om_len(i))
		return "length";
	nw = (m->len - 16) / 8;
	if (m->sum != om_sum(m, nw))
		return "checksum";
	for (__u32 k = 0; k < nw; k++)
		if (m->w[k] != xp_mix(i, k))
			return "payload";
	return NULL;
}

struct om_arg {
	int gfd;
	int ack_rd;
};

/*
 * The writer; when it stops, r->val[0] is the last message it sent and
 * r->val[1] becomes 1 (after that message was published).
 */
static int h_om_writer(FIXTURE_DATA(grant) *self, void *arg)
{
	int64_t deadline = xp_now_ns() + OM_BUDGET_MS * 1000000LL;
	struct om_arg *a = arg;
	struct res *r = self->r;
	struct om_msg m;
	__u64 acked = 0, copied;
	int ret;

	HCHECK(drop_to(UID_A) == 0, "cannot become uid %d", UID_A);
	for (__u64 i = 1; i <= OM_MSGS; i++) {
		__u32 len;

		if (!(i % 256) && xp_now_ns() > deadline)
			break;
		while (i > acked + OM_SLOTS) {
			__u64 v;

			HCHECK(xp_read_full(a->ack_rd, &v, sizeof(v)) == 0,
			       "ack pipe closed before message %llu",
			       (unsigned long long)i);
			if (v > acked)
				acked = v;
		}
		len = om_build(&m, i);
		ret = gcopy(self->dev, CW | CP, a->gfd, &m, len,
			    (i % OM_SLOTS) * OM_SLOT, i, &copied);
		HCHECK(ret == 0 && copied == len,
		       "message %llu: %d, %llu of %u bytes",
		       (unsigned long long)i, ret,
		       (unsigned long long)copied, len);
		r->val[0] = i;
	}
	__atomic_store_n(&r->val[1], 1, __ATOMIC_RELEASE);
	return 0;
}

TEST_F_TIMEOUT(grant, publish_ordered_stress, GRANT_TIMEOUT)
{
	__u64 consumed = 0, acked = 0, last_seen = 0, last_read = 0;
	__u64 polls = 0, reads = 0, max_lag = 0, v;
	struct xpcopy_grant_info in;
	struct res *r = self->r;
	int64_t t0, progress;
	struct om_arg a;
	uint8_t *ring;
	__u64 *seqw;
	int ack[2];
	pid_t pid;

	REQUIRE_ROOT();
	ring = xp_map(OM_SLOTS * OM_SLOT, PROT_READ | PROT_WRITE);
	seqw = xp_map(self->page, PROT_READ | PROT_WRITE);	/* the word: outside the window */
	ASSERT_NE(NULL, ring);
	ASSERT_NE(NULL, seqw);
	a.gfd = grant_seq(self->dev, GW, ring, OM_SLOTS * OM_SLOT, seqw, 0);
	ASSERT_LE(0, a.gfd);
	ASSERT_EQ(0, pipe2(ack, O_CLOEXEC));
	ASSERT_NE(SIG_ERR, signal(SIGPIPE, SIG_IGN));
	a.ack_rd = ack[0];
	t0 = progress = xp_now_ns();
	pid = spawn(self, h_om_writer, &a);
	ASSERT_LT(0, pid);
	close(ack[0]);
	ASSERT_EQ(0, fcntl(a.gfd, F_SETFL, O_NONBLOCK));

	for (;;) {
		/* Set after the writer's last publication: load it first. */
		bool done = __atomic_load_n(&r->val[1], __ATOMIC_ACQUIRE);
		__u64 s = __atomic_load_n(seqw, __ATOMIC_ACQUIRE);
		struct pollfd pf = { .fd = a.gfd, .events = POLLIN };
		ssize_t n;
		int pr;

		ASSERT_LE(last_seen, s) TH_LOG("the word went backwards");
		last_seen = s;
		if (s > consumed) {
			ASSERT_GE(consumed + OM_SLOTS, s)
				TH_LOG("the writer overran the ring");
			if (s - consumed > max_lag)
				max_lag = s - consumed;
			for (__u64 k = consumed + 1; k <= s; k++) {
				const char *bad = om_check((struct om_msg *)
					(ring + (k % OM_SLOTS) * OM_SLOT), k);

				ASSERT_EQ(NULL, bad)
					TH_LOG("message %llu (word %llu): "
					       "wrong %s",
					       (unsigned long long)k,
					       (unsigned long long)s, bad);
			}
			consumed = s;
			progress = xp_now_ns();
			if (consumed - acked >= OM_ACK_EVERY) {
				/* EPIPE: the writer is done and gone. */
				int w = xp_write_full(ack[1], &consumed,
						   sizeof(consumed));

				ASSERT_TRUE(w == 0 || w == -EPIPE);
				acked = consumed;
			}
			continue;
		}
		if (done)
			break;
		ASSERT_GT(progress + 20000000000LL, xp_now_ns())
			TH_LOG("nothing published for 20 s after message %llu",
			       (unsigned long long)consumed);
		polls++;
		pr = poll(&pf, 1, 1000);
		if (pr == 0)
			continue;	/* look at the done flag again */
		ASSERT_EQ(1, pr);
		ASSERT_EQ(POLLIN, pf.revents);
		n = read(a.gfd, &v, sizeof(v));
		ASSERT_EQ((ssize_t)sizeof(v), n) TH_LOG("read: %s",
							strerror(errno));
		reads++;
		/* The value read was stored in the word before. */
		ASSERT_GE(__atomic_load_n(seqw, __ATOMIC_ACQUIRE), v);
		ASSERT_LE(last_read, v);
		last_read = v;
	}
	ASSERT_HELPER_OK(pid, 60000);
	TH_LOG("%llu messages in %lld ms (%lld us each); %llu polls, %llu "
	       "reads, at most %llu ready at once",
	       (unsigned long long)consumed,
	       (long long)((xp_now_ns() - t0) / 1000000),
	       (long long)((xp_now_ns() - t0) / 1000 /
			   (int64_t)(consumed ? consumed : 1)),
	       (unsigned long long)polls, (unsigned long long)reads,
	       (unsigned long long)max_lag);
	if (consumed < OM_MSGS)
		TH_LOG("note: the writer stopped after its %d s budget, at "
		       "%llu of %llu messages", OM_BUDGET_MS / 1000,
		       (unsigned long long)consumed, OM_MSGS);
	ASSERT_EQ(r->val[0], consumed);
	ASSERT_LE(OM_MIN, consumed);
	ASSERT_EQ(consumed, *seqw);
	ASSERT_EQ(0, info(self->dev, a.gfd, &in));
	ASSERT_EQ(consumed, in.seq);
}

/*
 * The sequence word is the owner's memory: a read-only grant cannot write
 * it, not even through PUBLISH after a read.
 */
TEST_F(grant, publish_needs_write_right)
{
	__u64 seqw = 0, copied = 0;
	int gfd, rfd;

	gfd = grant_seq(self->dev, GRW, self->buf, self->page, &seqw, 0);
	ASSERT_LE(0, gfd);
	rfd = derive(self->dev, gfd, GR, 0, self->page);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(-EACCES, gcopy(self->dev, CR | CP, rfd, self->data, 100, 0,
				 5, &copied));
	ASSERT_EQ(0ULL, seqw);
	ASSERT_EQ(0, poll_now(gfd));
	/* with the write right it publishes */
	ASSERT_EQ(0, gcopy(self->dev, CR | CP, gfd, self->data, 100, 0, 5,
			   &copied));
	ASSERT_EQ(100ULL, copied);
	ASSERT_EQ(5ULL, __atomic_load_n(&seqw, __ATOMIC_ACQUIRE));
}

TEST_HARNESS_MAIN
