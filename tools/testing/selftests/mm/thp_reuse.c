// SPDX-License-Identifier: GPL-2.0
/*
 * A write fault on a PMD-mapped THP that fork() shared, after the child
 * has exited, must reuse the THP: the parent is its only user again, and
 * splitting the PMD and copying 4 KiB for a 1-byte write is a loss that
 * 5.10 did not have.
 *
 * write_after_child_exit checks this with nothing else going on: the PMD
 * stays, the page frame stays, the data is right.
 *
 * write_during_migration writes while another thread moves the THP back
 * and forth between the two NUMA nodes with move_pages(), so that the
 * fault often finds the page isolated and locked by migration.  5.10
 * waits for the page lock and decides by the mapcount: its fault never
 * splits the PMD.  A kernel that decides by the reference count, as the
 * series and mainline since 5.19 do, must not reuse a page that migration
 * holds: it splits the PMD and the PTE fault copies the 4 KiB written.
 *
 * What this case cannot show is a fault that gives up on a locked page
 * instead of waiting for it.  Migration takes its reference before it
 * locks the page and keeps it across its retries; reclaim, munlock, KSM
 * and THP splitting also lock the page only while holding a reference
 * (munlock, moreover, under mmap_lock held for writing), and what locks it
 * without one does so under the page table lock, which the fault holds
 * while it decides.  A fault that sees the page locked thus also sees the
 * extra reference, and both a fault that waits for the lock and one that
 * does not must split.  The case therefore reports how often the PMD was split and fails only
 * if data is lost.  A control run without the write first shows that
 * migration alone keeps the PMD; rounds in which migration split the THP
 * itself are counted apart.
 *
 * With CONFIG_VM_EVENT_COUNTERS, /proc/vmstat's thp_split_pmd counts the
 * PMD splits too; without it the mapping alone (smaps, pagemap and
 * kpageflags) tells what happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/kernel-page-flags.h>
#include <linux/mempolicy.h>
#include "mm_util.h"

#define OLD	0x5a	/* what the THP holds before the write */
#define NEW	0xa5	/* the byte the parent writes */

#define ROUNDS		40	/* rounds of each run at most */
#define RUN_SECONDS	25	/* and at most this long */

#define KPF(bit)	(1ULL << (bit))

/*
 * The migration thread and the main thread share the THP's address and
 * the flags and counters below, always through these __atomic builtins.
 */
#define SET(var, val)	__atomic_store_n(&(var), (val), __ATOMIC_SEQ_CST)
#define GET(var)	__atomic_load_n(&(var), __ATOMIC_SEQ_CST)

/* ---------------------------------------------------------------------- */
/* The THP */

static size_t thp_size;
static char *old_data;	/* thp_size bytes of OLD, to compare with */
static char *thp;	/* the migration thread reads it atomically */

static void thp_free(void)
{
	if (thp)
		munmap(thp, thp_size);
	SET(thp, NULL);
}

/* A fresh THP mapped by a PMD, or NULL. */
static bool thp_new(struct mmt_verdict *v)
{
	char *p;

	thp_free();
	p = mmap_aligned(thp_size, thp_size);
	if (!p) {
		mmt_fail(v, "mmap: %s", strerror(errno));
		return false;
	}
	SET(thp, p);
	if (madvise(p, thp_size, MADV_HUGEPAGE)) {
		mmt_skip(v, "MADV_HUGEPAGE: %s", strerror(errno));
		return false;
	}
	memset(p, OLD, thp_size);
	if (!range_is_thp(p, thp_size)) {
		mmt_skip(v, "could not get a THP");
		return false;
	}
	return true;
}

/* Share the THP with a child that exits at once: the PMD is read-only. */
static bool share_and_forget(struct mmt_verdict *v)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		mmt_fail(v, "fork: %s", strerror(errno));
		return false;
	}
	if (!pid)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		mmt_fail(v, "waitpid: %s", strerror(errno));
		return false;
	}
	return true;
}

/* What a round did to the THP. */
enum outcome {
	KEPT,		/* still mapped by the PMD */
	PMD_SPLIT,	/* mapped by PTEs, the THP itself intact */
	THP_GONE,	/* split into base pages, or not mapped */
};

/*
 * Tell how the THP is mapped.  @written is the offset of the byte written
 * (or -1): its 4 KiB may be a copy, so the probe is a subpage far from it.
 */
static enum outcome thp_outcome(long written)
{
	const char *probe = thp;
	uint64_t pfn, flags;

	if (range_is_thp(thp, thp_size))
		return KEPT;
	if (written >= 0 && (size_t)written < thp_size / 2)
		probe = thp + thp_size - pagesize;
	if (page_flags_at(probe, &pfn, &flags) && (flags & KPF(KPF_THP)))
		return PMD_SPLIT;
	return THP_GONE;
}

/* Everything but the byte at @written (or everything, if -1) is OLD. */
static bool data_intact(long written)
{
	size_t at = written < 0 ? thp_size : (size_t)written;

	if (memcmp(thp, old_data, at))
		return false;
	if (written < 0)
		return true;
	return thp[at] == (char)NEW &&
	       !memcmp(thp + at + 1, old_data, thp_size - at - 1);
}

/* ---------------------------------------------------------------------- */
/* The migration thread */

static pthread_t migrator;
static bool migrating;	/* main -> migrator: keep migrating */
static bool stopping;	/* main -> migrator: end */
static bool busy;	/* migrator -> main: inside a move */
static unsigned long moves, move_errors;

/* Move the THP to the other node; false if move_pages() failed. */
static bool move_thp(void)
{
	void *pages[1] = { GET(thp) };
	int status[1] = { -1 }, node[1];

	/* Where it is now. */
	if (syscall(SYS_move_pages, 0, 1, pages, NULL, status, 0) ||
	    status[0] < 0)
		return false;
	node[0] = !status[0];
	return !syscall(SYS_move_pages, 0, 1, pages, node, status,
			MPOL_MF_MOVE) && status[0] == node[0];
}

static void *migrator_main(void *arg)
{
	while (!GET(stopping)) {
		/*
		 * Busy before looking at migrating, both sequentially
		 * consistent: migration_stop() either sees busy and waits,
		 * or this sees migrating cleared and does not move.
		 */
		SET(busy, true);
		if (!GET(migrating)) {
			SET(busy, false);
			sched_yield();
			continue;
		}
		if (!move_thp())
			SET(move_errors, GET(move_errors) + 1);
		SET(moves, GET(moves) + 1);
	}
	SET(busy, false);
	return NULL;
}

/* Start migrating, and return once the first move has begun. */
static void migration_start(void)
{
	unsigned long before = GET(moves);

	SET(migrating, true);
	while (!GET(busy) && GET(moves) == before)
		;
}

static void migration_stop(void)
{
	SET(migrating, false);
	while (GET(busy))
		;
}

/* ---------------------------------------------------------------------- */
/* Cases */

/* Spin a little, so that the write lands at a different moment of a move. */
static void jitter(void)
{
	unsigned long i, n = (unsigned long)rand() % 50000, spins = 0;

	for (i = 0; i < n; i++)
		__atomic_add_fetch(&spins, 1, __ATOMIC_RELAXED);
}

struct tally {
	unsigned int rounds;
	unsigned int kept, pmd_split, thp_gone, copied, data_lost;
	long vm_splits;		/* thp_split_pmd events; -1: no counter */
};

/*
 * One run of rounds: fork and forget, then (with @migrate) migrate
 * around the write of one byte (@write), then look.
 */
static void run_rounds(bool write, bool migrate, struct tally *t,
		       struct mmt_verdict *v)
{
	time_t end = time(NULL) + RUN_SECONDS;
	long split0 = vmstat_read("thp_split_pmd");

	memset(t, 0, sizeof(*t));
	if (!thp_new(v))
		return;
	while (mmt_ok(v) && t->rounds < ROUNDS && time(NULL) < end) {
		long off = write ? rand() % (long)thp_size : -1;
		uint64_t pfn = pagemap_pfn(thp);

		memset(thp, OLD, thp_size);
		if (!share_and_forget(v))
			break;
		if (migrate) {
			migration_start();
			jitter();
		}
		if (write)
			thp[off] = NEW;
		if (migrate)
			migration_stop();
		t->rounds++;
		if (!data_intact(off))
			t->data_lost++;
		switch (thp_outcome(off)) {
		case KEPT:
			t->kept++;
			/* Without migration, the frame must be the same. */
			if (!migrate && pfn && pagemap_pfn(thp) != pfn)
				t->copied++;
			continue;
		case PMD_SPLIT:
			t->pmd_split++;
			break;
		case THP_GONE:
			t->thp_gone++;
			break;
		}
		if (!thp_new(v))
			break;
	}
	t->vm_splits = split0 < 0 ? -1 : vmstat_read("thp_split_pmd") - split0;
	if (mmt_ok(v) && !t->rounds)
		mmt_fail(v, "no round ran");
}

static void report_tally(const char *name, const char *run,
			 const struct tally *t)
{
	char vm[64] = "no thp_split_pmd counter";

	if (t->vm_splits >= 0)
		snprintf(vm, sizeof(vm), "thp_split_pmd +%ld", t->vm_splits);
	ksft_print_msg("%s: %s: %u rounds: PMD kept %u (copied %u), PMD split %u, ",
		       name, run, t->rounds, t->kept, t->copied, t->pmd_split);
	printf("THP split or gone %u, data lost %u; %s; %lu moves, %lu failed\n",
	       t->thp_gone, t->data_lost, vm, GET(moves), GET(move_errors));
}

static void write_after_child_exit(const char *name, struct mmt_verdict *v)
{
	struct tally t;

	run_rounds(true, false, &t, v);
	if (!mmt_ok(v))
		return;
	report_tally(name, "write", &t);
	if (t.kept != t.rounds || t.copied || t.data_lost)
		mmt_fail(v, "%u writes: %u split the PMD, %u the THP, %u copied it, %u lost data",
			 t.rounds, t.pmd_split, t.thp_gone, t.copied,
			 t.data_lost);
}

static void write_during_migration(const char *name, struct mmt_verdict *v)
{
	struct tally control, t;

	SET(moves, 0);
	SET(move_errors, 0);
	if (!thp_new(v))
		return;
	if (!move_thp()) {
		mmt_skip(v, "cannot move a THP to the other NUMA node: %s",
			 strerror(errno));
		return;
	}
	run_rounds(false, true, &control, v);
	if (!mmt_ok(v))
		return;
	report_tally(name, "control, no write", &control);
	if (control.kept != control.rounds || control.data_lost) {
		mmt_skip(v, "migration alone split or lost the THP in %u of %u rounds",
			 control.rounds - control.kept, control.rounds);
		return;
	}
	SET(moves, 0);
	SET(move_errors, 0);
	run_rounds(true, true, &t, v);
	if (!mmt_ok(v))
		return;
	report_tally(name, "write", &t);
	if (t.pmd_split)
		ksft_print_msg("%s: %u of %u writes split the PMD: %s\n",
			       name, t.pmd_split, t.rounds,
			       "the fault found the THP held by migration");
	if (t.thp_gone)
		ksft_print_msg("%s: migration split the THP in %u rounds\n",
			       name, t.thp_gone);
	if (t.data_lost)
		mmt_fail(v, "%u of %u writes during migration lost data",
			 t.data_lost, t.rounds);
}

struct test_case {
	const char *name;
	void (*run)(const char *name, struct mmt_verdict *v);
};

static const struct test_case cases[] = {
	{ "write_after_child_exit", write_after_child_exit },
	{ "write_during_migration", write_during_migration },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

int main(void)
{
	bool pfns = false;
	size_t i;

	ksft_print_header();
	mmt_plan(ARRAY_SIZE(cases));
	thp_size = thp_pmd_size();
	old_data = thp_size ? malloc(thp_size) : NULL;
	if (old_data) {
		uint64_t pfn, flags;

		memset(old_data, OLD, thp_size);
		pfns = page_flags_at(old_data, &pfn, &flags);
	}
	if (pthread_create(&migrator, NULL, migrator_main, NULL))
		ksft_exit_fail_msg("pthread_create failed\n");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mmt_verdict v = { .res = MMT_PASS };

		if (!thp_size)
			mmt_skip(&v, "THP is not available");
		else if (!old_data)
			mmt_fail(&v, "out of memory");
		else if (!pfns)
			mmt_skip(&v, "no PFNs in the pagemap or no kpageflags");
		else
			cases[i].run(cases[i].name, &v);
		thp_free();
		mmt_report(cases[i].name, v.res, NULL, "%s", v.why);
	}
	stopping = true;
	pthread_join(migrator, NULL);
	free(old_data);
	return mmt_exit();
}
