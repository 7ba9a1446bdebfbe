#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of scripts/bench_report.py on made-up guest logs.

They prove that the benchmark report refuses figures it cannot trust: a
program that failed or printed nothing, a guest that did not finish, a
splat of the patched kernel.
"""
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
import bench_report  # noqa: E402


def log(prog, rc, *lines):
    return '\n'.join(['MMX-RUN 1 timeout=30', 'MMX-BEGIN ' + prog] +
                     list(lines) +
                     ['MMX-END %s rc=%d secs=1' % (prog, rc), 'MMX-DONE', ''])


GOOD_P = log('b', 0, '# c runs_ns: 1 2 3', 'bench c median_ns 1010',
             'bench c spread_pct 0.5', 'bench a pages 10')
GOOD_V = log('b', 0, 'bench c median_ns 1000', 'bench c spread_pct 0.25',
             'bench a pages 10')


def run(kernels, refs='b=vanilla', keep=None):
    """kernels: {name: (tests.log, console.log, boot.status)}; keep: a dict
    that gets the report.json document and whether report.png exists"""
    with tempfile.TemporaryDirectory() as d:
        for k, files in kernels.items():
            os.mkdir(os.path.join(d, k))
            for name, text in zip(('tests.log', 'console.log', 'boot.status'),
                                  files):
                if text is not None:
                    with open(os.path.join(d, k, name), 'w') as f:
                        f.write(text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = bench_report.main([d] + refs.split())
        if keep is not None:
            with open(os.path.join(d, 'report.json')) as f:
                keep['json'] = json.load(f)
            keep['png'] = os.path.exists(os.path.join(d, 'report.png'))
            with open(os.path.join(d, 'report.md')) as f:
                keep['md'] = f.read()
    return rc, out.getvalue().splitlines()


def row(lines, case, figure):
    return [l.split() for l in lines
            if l.split()[:2] == [case, figure]][0]


class BenchReportTest(unittest.TestCase):
    def test_ratios_in_program_order(self):
        rc, lines = run({'patched': (GOOD_P, '', 'exited'),
                         'vanilla': (GOOD_V, '', 'exited')})
        self.assertEqual(rc, 0)
        self.assertEqual(row(lines, 'c', 'median_ns'),
                         ['c', 'median_ns', 'vanilla', '1000', '1010', '1.010'])
        self.assertEqual(row(lines, 'c', 'spread_pct')[-1], '-')
        cases = [l.split()[0] for l in lines if not l.startswith('#')][1:]
        self.assertEqual(cases, ['c', 'c', 'a'])
        self.assertIn('# highest median_ns ratio against vanilla: 1.010 (c)',
                      lines)

    def test_json(self):
        keep = {}
        rc, lines = run({'patched': (GOOD_P, '', 'exited'),
                         'vanilla': (GOOD_V, '', 'exited')}, keep=keep)
        self.assertEqual(rc, 0)
        doc = keep['json']
        self.assertTrue(doc['ok'])
        c = doc['programs']['b']['cases']['c']
        self.assertEqual(c['median_ns'], {'reference': 1000, 'patched': 1010,
                                          'ratio': 1.01})
        self.assertIsNone(c['spread_pct']['ratio'])
        self.assertEqual(doc['programs']['b']['reference'], 'vanilla')
        self.assertIn('| b | c | vanilla | - | - | 1.010 |', keep['md'])
        # no per-page figure: nothing to plot, and the report says so
        self.assertFalse(keep['png'])
        self.assertIn('# no case with a per-page figure on both kernels: '
                      'no plot', lines)

    def test_json_problems(self):
        keep = {}
        rc, _ = run({'patched': (log('b', 0), '', 'exited'),
                     'vanilla': (GOOD_V, '', 'exited')}, keep=keep)
        self.assertEqual(rc, 1)
        self.assertFalse(keep['json']['ok'])
        self.assertIn('b on the patched kernel: no figures',
                      keep['json']['problems'])

    def test_plot(self):
        keep = {}
        rc, lines = run({'patched': (log('b', 0, 'bench c ns_per_page 101'),
                                     '', 'exited'),
                         'vanilla': (log('b', 0, 'bench c ns_per_page 100'),
                                     '', 'exited')}, keep=keep)
        self.assertEqual(rc, 0)
        if shutil.which('gnuplot'):
            self.assertTrue(keep['png'], lines)
        else:
            self.assertIn('# no gnuplot: no plot', lines)

    def test_failed_program(self):
        bad = log('b', 1, '# c: MADV_PAGEOUT did not swap every page out')
        rc, lines = run({'patched': (GOOD_P, '', 'exited'),
                         'vanilla': (bad, '', 'exited')})
        self.assertEqual(rc, 1)
        self.assertIn('# b on the vanilla kernel: exit status 1', lines)
        self.assertIn('#   c: MADV_PAGEOUT did not swap every page out', lines)

    def test_no_figures(self):
        rc, lines = run({'patched': (log('b', 0), '', 'exited'),
                         'vanilla': (GOOD_V, '', 'exited')})
        self.assertEqual(rc, 1)
        self.assertIn('# b on the patched kernel: no figures', lines)

    def test_guest_killed(self):
        cut = GOOD_V.split('MMX-END')[0]
        rc, lines = run({'patched': (GOOD_P, '', 'exited'),
                         'vanilla': (cut, '', 'watchdog after 2000 s')})
        self.assertEqual(rc, 1)
        self.assertIn('# vanilla kernel: guest watchdog after 2000 s', lines)
        self.assertIn('# b on the vanilla kernel: did not finish', lines)

    def test_splat(self):
        console = '[    9.000000] WARNING: CPU: 0 PID: 1 at mm/memory.c:1 x\n'
        rc, lines = run({'patched': (GOOD_P, console, 'exited'),
                         'vanilla': (GOOD_V, '', 'exited')})
        self.assertEqual(rc, 1)
        self.assertTrue(any(l.startswith('# patched kernel: console: WARNING')
                            for l in lines))

    def test_reference_splat_is_noted(self):
        console = '[    9.000000] WARNING: CPU: 0 PID: 1 at mm/memory.c:1 x\n'
        rc, lines = run({'patched': (GOOD_P, '', 'exited'),
                         'vanilla': (GOOD_V, console, 'exited')})
        self.assertEqual(rc, 0)
        self.assertTrue(any(l.startswith('# vanilla kernel (a reference')
                            for l in lines))


if __name__ == '__main__':
    unittest.main()
