/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark programs share: the clock they time with, and the
 * report of a case's runs ("bench <case> <figure> <value>" lines that
 * scripts/bench_report.py reads).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Report the @runs times of case @name (sorted in place): every run in a
 * comment line, then pages, median_ns, ns_per_page and spread_pct
 * ((max - min) / median).
 */
static inline void bench_report(const char *name, uint64_t *ns, int runs,
				size_t pages)
{
	uint64_t med;
	int r;

	printf("# %s runs_ns:", name);
	for (r = 0; r < runs; r++)
		printf(" %llu", (unsigned long long)ns[r]);
	printf("\n");
	qsort(ns, runs, sizeof(ns[0]), cmp_u64);
	med = ns[runs / 2];
	printf("bench %s pages %zu\n", name, pages);
	printf("bench %s median_ns %llu\n", name, (unsigned long long)med);
	printf("bench %s ns_per_page %.1f\n", name, (double)med / pages);
	printf("bench %s spread_pct %.3f\n", name,
	       med ? (ns[runs - 1] - ns[0]) * 100.0 / med : 0.0);
	fflush(stdout);
}

/*
 * Whether case @name is to run: the arguments name the cases, or else the
 * environment's BENCH_CASES does (comma-separated: make bench C=...); all
 * cases when neither names any.
 */
static inline bool bench_wanted(const char *name, int argc, char **argv)
{
	const char *env = getenv("BENCH_CASES"), *p;
	size_t len = strlen(name);
	int i;

	if (argc >= 2) {
		for (i = 1; i < argc; i++)
			if (!strcmp(argv[i], name))
				return true;
		return false;
	}
	if (!env || !*env)
		return true;
	for (p = env; *p; p += strcspn(p, ",")) {
		p += *p == ',';
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

/*
 * Run on CPU 0 only, so that every run of a case sees the same per-CPU
 * state (LRU pagevecs, page lists); false, said why, if that fails.
 */
/*
 * make profile shrinks every case's memory by BENCH_SHRINK (1, 2, 4, 8, 16
 * or 32), so that the trace of a run stays small; the figures are per
 * page either way.  Read by bench_on_cpu0(), which every program calls
 * first.
 */
static unsigned long bench_shrink = 1;

static inline bool bench_on_cpu0(void)
{
	const char *env = getenv("BENCH_SHRINK");
	cpu_set_t cpu;

	if (env && *env) {
		bench_shrink = strtoul(env, NULL, 10);
		if (!bench_shrink || bench_shrink > 32 ||
		    (bench_shrink & (bench_shrink - 1))) {
			printf("# BENCH_SHRINK=%s: not 1, 2, 4, 8, 16 or 32\n", env);
			return false;
		}
	}

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	if (sched_setaffinity(0, sizeof(cpu), &cpu)) {
		printf("# sched_setaffinity: %s\n", strerror(errno));
		return false;
	}
	return true;
}

/*
 * make profile traces the guest's instructions over one run of each case:
 * with BENCH_GATE=1 in the environment, bench_gate() says "start <case>"
 * (@start) or "stop <case>" on the guest's third serial port in run @r ==
 * BENCH_GATE_RUN (default 4) and waits for the host's answer, so that the
 * host arms and disarms the trace outside the timed region.  Nothing
 * happens without BENCH_GATE.
 */
static inline void bench_gate(const char *name, int r, bool start)
{
	static int fd = -2, run;
	const char *env;
	struct termios tio;
	char b;

	if (fd == -2) {
		fd = -1;
		env = getenv("BENCH_GATE");
		if (env && !strcmp(env, "1"))
			fd = open("/dev/ttyS2", O_RDWR | O_NOCTTY);
		if (fd >= 0 && !tcgetattr(fd, &tio)) {
			cfmakeraw(&tio);
			tcsetattr(fd, TCSANOW, &tio);
		}
		env = getenv("BENCH_GATE_RUN");
		run = env ? atoi(env) : 4;
	}
	if (fd < 0 || r != run)
		return;
	dprintf(fd, "%s %s\n", start ? "start" : "stop", name);
	if (read(fd, &b, 1) != 1) {
		close(fd);
		fd = -1;
	}
}

#endif /* BENCH_UTIL_H */
