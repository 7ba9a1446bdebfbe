#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of scripts/report.py on made-up guest logs.

They prove that the report fails what it must fail: kernel splats, a test
that timed out, crashed or stopped short, an XPASS, missing KUnit output.
"""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import report  # noqa: E402

KUNIT = """[    1.000000] TAP version 14
[    1.000001] 1..1
[    1.000002]     # Subtest: list-kunit-test
[    1.000003]     1..2
[    1.000004]     ok 1 - list_test_list_init
[    1.000005] random: crng init done
[    1.000006]     # list_test_list_add: EXPECTATION FAILED at lib/list-test.c:10
[    1.000007]     not ok 2 - list_test_list_add
[    1.000008] not ok 1 - list-kunit-test
[    1.500000] Run /init as init process
"""

PROG_OK = """MMX-BEGIN prog
TAP version 13
1..3
ok 1 a
ok 2 b # XFAIL known gap (why)
ok 3 c # SKIP no THP
# Totals: pass:1 fail:0 xfail:1 xpass:0 skip:1 error:0
MMX-END prog rc=0 secs=1
MMX-DONE
"""


def run(console, tests, programs='prog', flt='', status='exited',
        extra=()):
    with tempfile.TemporaryDirectory() as d:
        for name, text in (('console.log', console), ('tests.log', tests),
                           ('boot.status', status + '\n1\n')):
            if text is not None:
                with open(os.path.join(d, name), 'w') as f:
                    f.write(text)
        report.OUT = d
        sys.argv = ['report.py', '--programs', programs, '--timeout', '30']
        if flt:
            sys.argv += ['--filter', flt]
        sys.argv += list(extra)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = report.main()
    return rc, out.getvalue().splitlines()


def totals(lines):
    line = [l for l in lines if l.startswith('# Totals:')][0]
    return dict(kv.split(':') for kv in line[len('# Totals: '):].split())


class ReportTest(unittest.TestCase):
    def test_clean_run_passes(self):
        rc, out = run(KUNIT.replace('not ok 2 - list_test_list_add',
                                    'ok 2 - list_test_list_add')
                      .replace('not ok 1 - list', 'ok 1 - list'), PROG_OK)
        self.assertEqual(rc, 0)
        self.assertEqual(out[0], 'KTAP version 1')
        self.assertEqual(out[-1], '5 passed, 0 failed, 1 skipped')
        t = totals(out)
        self.assertEqual((t['pass'], t['xfail'], t['skip']), ('4', '1', '1'))

    def test_kunit_failure_and_diagnostic(self):
        rc, out = run(KUNIT, PROG_OK)
        self.assertEqual(rc, 1)
        self.assertIn('    not ok 2 list_test_list_add', out)
        self.assertIn('    # list_test_list_add: EXPECTATION FAILED at '
                      'lib/list-test.c:10', out)

    def test_splats_fail_dmesg_clean(self):
        for splat in ('WARNING: CPU: 0 PID: 1 at mm/gup.c:1 f+0x0/0x1',
                      'BUG: sleeping function called from invalid context',
                      'WARNING: possible circular locking dependency detected',
                      'BUG: KASAN: use-after-free in f+0x0/0x1',
                      'Oops: 0000 [#1] SMP',
                      'UBSAN: shift-out-of-bounds in mm/x.c:1:2'):
            rc, out = run(KUNIT + '[    2.0] ' + splat + '\n', PROG_OK)
            self.assertEqual(rc, 1, splat)
            i = out.index('not ok 3 dmesg_clean')
            self.assertEqual(out[i - 1], '# ' + splat)

    def test_injected_failures(self):
        trace = ('[ 2.0] FAULT_INJECTION: forcing a failure.\n'
                 '[ 2.0] name fail_page_alloc, interval 1\n'
                 '[ 2.0] Call Trace:\n'
                 '[ 2.0]  dump_stack+0x9a/0xcc\n')
        oom = ('[ 3.0] prog invoked oom-killer: gfp_mask=0x0(), order=0\n'
               '[ 3.0] Call Trace:\n')
        # Only a fault-injection run expects them, once each.
        rc, out = run(KUNIT + trace, PROG_OK)
        self.assertIn('not ok 3 dmesg_clean', out)
        rc, out = run(KUNIT + trace + oom, PROG_OK, extra=['--injected'])
        self.assertEqual(rc, 1)		# the KUnit failure of KUNIT
        self.assertIn('ok 3 dmesg_clean', out)
        self.assertIn('# 2 injected failures and their reports', out)
        rc, out = run(KUNIT + trace + '[ 2.1] Call Trace:\n', PROG_OK,
                      extra=['--injected'])
        self.assertIn('not ok 3 dmesg_clean', out)
        rc, out = run(KUNIT + trace + '[ 2.1] WARNING: CPU: 0 at x\n',
                      PROG_OK, extra=['--injected'])
        self.assertIn('not ok 3 dmesg_clean', out)
        # A known base bug only a failed fork reaches: named, not failed,
        # and only in a fault-injection run.
        pat = ('[ 2.2] WARNING: CPU: 0 PID: 216 at ../linux/arch/x86/mm/pat/'
               'memtype.c:1019 get_pat_info+0x16d/0x191\n[ 2.2] Call Trace:\n')
        rc, out = run(KUNIT + trace + pat, PROG_OK, extra=['--injected'])
        self.assertIn('ok 3 dmesg_clean', out)
        self.assertTrue(any('known base bug met' in l for l in out))
        rc, out = run(KUNIT + pat, PROG_OK)
        self.assertIn('not ok 3 dmesg_clean', out)

    def test_benign_lockdep_banner_is_clean(self):
        rc, out = run(KUNIT + '[ 0.1] rcu: \tRCU lockdep checking is enabled.\n',
                      PROG_OK)
        self.assertIn('ok 3 dmesg_clean', out)

    def test_timeout_is_an_error(self):
        tests = PROG_OK.replace('MMX-END prog rc=0 secs=1',
                                'MMX-END prog rc=137 secs=30')
        rc, out = run(KUNIT, tests)
        self.assertEqual(rc, 1)
        self.assertIn('    not ok 4 exit # TIMEOUT 30 seconds', out)
        self.assertEqual(totals(out)['error'], '1')

    def test_crash_and_short_plan_are_errors(self):
        crashed = PROG_OK.replace('ok 3 c # SKIP no THP\n', '') \
                         .replace('rc=0', 'rc=139')
        rc, out = run(KUNIT, crashed)
        self.assertEqual(rc, 1)
        self.assertTrue(any('ERROR exit=139 (signal 11)' in l for l in out))
        short = PROG_OK.replace('ok 3 c # SKIP no THP\n', '')
        rc, out = run(KUNIT, short)
        self.assertTrue(any('planned 3 cases, reported 2' in l for l in out))

    def test_guest_died_before_the_program(self):
        rc, out = run(KUNIT, 'MMX-RUN 1\n', status='watchdog after 300 s')
        self.assertEqual(rc, 1)
        self.assertTrue(any('not run: guest watchdog' in l for l in out))

    def test_xpass_fails(self):
        tests = PROG_OK.replace(
            'ok 2 b # XFAIL known gap (why)',
            'not ok 2 b # XPASS known gap is fixed, drop its mark: gap')
        rc, out = run(KUNIT, tests)
        self.assertEqual(rc, 1)
        self.assertEqual(totals(out)['xpass'], '1')

    def test_missing_kunit_output_is_an_error(self):
        rc, out = run('[ 0.1] Linux version 5.10.223\n', PROG_OK)
        self.assertEqual(rc, 1)
        self.assertTrue(any('no KUnit output' in l for l in out))

    def test_filter_counts_what_it_leaves_out(self):
        rc, out = run(KUNIT, PROG_OK, flt='mm.prog.a')
        self.assertIn("# filter T='mm.prog.a': 4 tests filtered out", out)
        self.assertEqual(out[-1], '2 passed, 0 failed, 0 skipped')

    def test_program_selection(self):
        sel = report.program_selected
        self.assertTrue(sel('cow_pin', 'mm.cow_pin.*'))
        self.assertTrue(sel('cow_pin', '*thp*'))
        self.assertTrue(sel('cow_pin', 'mm.*'))
        self.assertFalse(sel('cow_pin', 'mm.gup_test_ioctl.*'))
        self.assertFalse(sel('cow_pin', 'kunit.*'))


if __name__ == '__main__':
    unittest.main()
