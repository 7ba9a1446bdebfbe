#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the guest's logs into one KTAP version 1 report on stdout.

Sources: KUnit results from the kernel console (out/console.log, where 5.10
prints "TAP version 14" and "ok 1 - name"), the selftest programs' output
from the test channel (out/tests.log) and a scan of the console for kernel
splats (the dmesg_clean test).  Leaf names are kunit.<suite>.<case>,
mm.<program>.<case> and dmesg_clean; --filter takes a glob over them.

Exit status 1 if anything failed, errored or passed unexpectedly (XPASS).
"""
import argparse
import fnmatch
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get('MMX_OUT') or os.path.join(ROOT, 'out')

SPLAT = re.compile(
    r'WARNING:|BUG:|Oops|KASAN|UBSAN|DEBUG_LOCKS_WARN_ON|'
    r'possible (?:circular|recursive) locking|inconsistent lock state|'
    r'INFO: lockdep is turned off|'
    r'sleeping function called from invalid context|Kernel panic|'
    r'general protection fault|Call Trace:|INFO: task .* blocked')
TSTAMP = re.compile(r'^\[\s*\d+\.\d+\]\s?')
RESULT = re.compile(r'^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$')


class Test:
    """A node of the report: a leaf test or a group of tests."""

    def __init__(self, name, status=None, directive='', diag=None):
        self.name = name
        self.status = status        # pass fail skip xfail xpass error
        self.directive = directive  # text after '#' on the result line
        self.diag = diag or []
        self.children = []

    def leaves(self):
        if not self.children:
            return [self] if self.status else []
        return [l for c in self.children for l in c.leaves()]

    def result(self):
        if not self.children:
            return self.status
        states = [c.result() for c in self.children]
        if any(s in ('fail', 'xpass', 'error') for s in states):
            return 'fail'
        if states and all(s == 'skip' for s in states):
            return 'skip'
        return 'pass'


def status_of(ok, directive):
    d = (directive or '').upper()
    if d.startswith('SKIP'):
        return 'skip'
    if d.startswith('XFAIL'):
        return 'xfail' if ok == 'ok' else 'fail'
    if d.startswith('XPASS'):
        return 'xpass'
    if d.startswith('TIMEOUT') or d.startswith('ERROR'):
        return 'error'
    return 'pass' if ok == 'ok' else 'fail'


def read_lines(path):
    try:
        with open(path, 'rb') as f:
            data = f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return None
    return data.replace('\r', '').split('\n')


def parse_kunit(console):
    """KUnit suites from the console; None if no KUnit output was found."""
    lines = [TSTAMP.sub('', l) for l in console]
    try:
        start = next(i for i, l in enumerate(lines)
                     if l.strip() in ('TAP version 14', 'KTAP version 1'))
    except StopIteration:
        return None
    suites, suite, diag = [], None, []
    for line in lines[start + 1:]:
        if line.startswith('    # Subtest: '):
            suite = Test('kunit.' + line.split(':', 1)[1].strip())
            diag = []
            suites.append((suite, 0))
            continue
        if suite is None:
            continue
        m = re.match(r'^    1\.\.(\d+)$', line)
        if m:
            suites[-1] = (suite, int(m.group(1)))
            continue
        m = RESULT.match(line[4:]) if line.startswith('    ') else None
        if m and not line.startswith('     '):
            name = (m.group(3) or '').strip()
            suite.children.append(Test('%s.%s' % (suite.name, name),
                                       status_of(m.group(1), m.group(4)),
                                       m.group(4) or '', diag))
            diag = []
            continue
        if line.startswith('    # ') or line.startswith('        # '):
            diag.append(line.strip())
            continue
        m = RESULT.match(line)
        if m:           # the suite's own line ends the block
            suite = None
        if line.startswith('reboot:') or 'Run /init' in line or \
                line.startswith('Freeing unused kernel'):
            break
    result = []
    for suite, planned in suites:
        missing = planned - len(suite.children)
        if missing > 0:
            suite.children.append(Test(suite.name + '.incomplete', 'error',
                                       'ERROR %d of %d cases did not report'
                                       % (missing, planned)))
        result.append(suite)
    return result


def parse_programs(tests, programs, timeout, guest_status):
    """One group per selftest program, from the test channel.

    A program that did not finish is an error of its own, so the final
    MMX-DONE marker adds nothing and is not needed here.
    """
    blocks, cur = {}, None
    for line in tests or []:
        if line.startswith('MMX-BEGIN '):
            cur = line.split()[1]
            blocks[cur] = {'lines': [], 'end': None}
        elif line.startswith('MMX-END ') and cur:
            blocks[cur]['end'] = dict(kv.split('=', 1)
                                      for kv in line.split()[2:])
            cur = None
        elif cur:
            blocks[cur]['lines'].append(line)

    groups = []
    for prog in programs:
        group = Test('mm.' + prog)
        groups.append(group)
        block = blocks.get(prog)
        if block is None:
            group.children.append(Test(group.name + '.run', 'error',
                                       'ERROR not run: guest %s' % guest_status))
            continue
        planned, diag, skip_all = None, [], None
        for line in block['lines']:
            m = re.match(r'^1\.\.(\d+)(?:\s*#\s*(.*))?$', line)
            if m:
                planned = int(m.group(1))
                if planned == 0:
                    skip_all = m.group(2) or 'skipped'
                continue
            m = RESULT.match(line)
            if m:
                name = (m.group(3) or '').strip() or 'case%s' % m.group(2)
                group.children.append(Test('%s.%s' % (group.name, name),
                                           status_of(m.group(1), m.group(4)),
                                           m.group(4) or '', diag))
                diag = []
            elif line.startswith('TAP version'):
                continue
            elif line.strip():
                diag.append(line if line.startswith('#') else '# ' + line)
        end = block['end']
        rc = int(end['rc']) if end else None
        secs = int(end.get('secs', 0)) if end else 0
        problem = None
        if end is None:
            problem = 'ERROR did not finish: guest %s' % guest_status
        elif rc in (137, 124) and secs >= timeout:
            problem = 'TIMEOUT %d seconds' % timeout
        elif rc == 4 and not group.children:
            group.children.append(Test(group.name + '.run', 'skip',
                                       'SKIP ' + (skip_all or 'exit 4'), diag))
            continue
        elif rc not in (0, 1, 4):
            problem = 'ERROR exit=%d%s' % (rc, ' (signal %d)' % (rc - 128)
                                          if rc > 128 else '')
        elif rc == 1 and not any(t.status in ('fail', 'xpass', 'error')
                                 for t in group.children):
            problem = 'ERROR exit=1 without a failing case'
        elif planned is not None and planned != len(group.children):
            problem = 'ERROR planned %d cases, reported %d' % (
                planned, len(group.children))
        if problem:
            group.children.append(Test(group.name + '.exit', 'error',
                                       problem, diag))
    return groups


INJECTED = re.compile(r'FAULT_INJECTION: forcing a failure|'
                      r'invoked oom-killer:|page allocation failure:|'
                      r'vmalloc: allocation failure:')
# Bugs of the base that only a failed allocation reaches, and that the
# fault-injection run therefore meets: (pattern, what it is).  Each one
# must be fixed upstream; the report names it instead of failing.
KNOWN_INJECTED = [
    (re.compile(r'WARNING: .* at \S*arch/x86/mm/pat/memtype\.c:\d+ '
                r'get_pat_info\+'),
     'fork() failed after the child got a VM_PAT mapping (io_uring rings) '
     'without its PTEs: untrack_pfn() warns; fixed upstream in 6.11 by '
     '"x86/mm/pat: fix VM_PAT handling when fork() fails in '
     'copy_page_range()"'),
]


def dmesg_clean(console, injected=False):
    """The console has no kernel splat.  With injected=True, failures forced
    by the kernel's fault injection are expected: each one's own message and
    the one stack trace it prints are not splats, nor are the reports of the
    allocations that failed because of them (warn_alloc()) and the OOM
    killer's (a user page fault whose allocation failed kills a process;
    5.10 has no other answer), but anything else still is."""
    traces = forced = 0
    known = []
    for line in console or []:
        text = TSTAMP.sub('', line)
        if injected and INJECTED.search(text):
            traces += 1
            forced += 1
            continue
        known_bug = [why for pat, why in KNOWN_INJECTED
                     if injected and pat.search(text)]
        if known_bug:
            traces += 1
            if known_bug[0] not in known:
                known.append(known_bug[0])
            continue
        if injected and traces and text.startswith('Call Trace:'):
            traces -= 1
            continue
        if SPLAT.search(text):
            return Test('dmesg_clean', 'fail', '', ['# ' + text.strip()])
    if console is None:
        return Test('dmesg_clean', 'error', 'ERROR no console log')
    diag = ['# %d injected failures and their reports' % forced] if injected else []
    diag += ['# known base bug met: ' + why for why in known]
    return Test('dmesg_clean', 'pass', '', diag)


def keep(test, glob):
    """Drop leaves that do not match the filter; return how many went."""
    if not test.children:
        return 0
    gone = 0
    kept = []
    for c in test.children:
        if c.children:
            gone += keep(c, glob)
            if c.children:
                kept.append(c)
        elif fnmatch.fnmatchcase(c.name, glob):
            kept.append(c)
        else:
            gone += 1
    test.children = kept
    return gone


def emit(test, num, depth, prefix):
    ind = '  ' * depth
    short = test.name[len(prefix):] if test.name.startswith(prefix) else test.name
    if test.children:
        print('%s  KTAP version 1' % ind)
        print('%s  # Subtest: %s' % (ind, short))
        print('%s  1..%d' % (ind, len(test.children)))
        for i, c in enumerate(test.children, 1):
            emit(c, i, depth + 1, test.name + '.')
        state = test.result()
        line = '%s%s %d %s' % (ind, 'ok' if state != 'fail' else 'not ok',
                               num, short)
        if state == 'skip':
            line += ' # SKIP'
        print(line)
        return
    for d in test.diag[-20:]:
        print('%s%s' % (ind, d if d.startswith('#') else '# ' + d))
    ok = test.status in ('pass', 'skip', 'xfail')
    line = '%s%s %d %s' % (ind, 'ok' if ok else 'not ok', num, short)
    if test.directive:
        line += ' # ' + test.directive
    print(line)


def program_selected(prog, glob):
    if not glob:
        return True
    name = 'mm.%s.' % prog
    literal = re.split(r'[*?\[]', glob, 1)[0]
    return name.startswith(literal) or literal.startswith(name) or \
        fnmatch.fnmatchcase('mm.' + prog, glob)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--filter', default='')
    ap.add_argument('--programs', default='', help='comma-separated')
    ap.add_argument('--all-programs', default='',
                    help='comma-separated: every program there is')
    ap.add_argument('--timeout', type=int, default=300)
    ap.add_argument('--injected', action='store_true',
                    help='fault injection ran: its own traces are expected')
    ap.add_argument('--select', action='store_true',
                    help='print the programs (from stdin) the filter needs')
    args = ap.parse_args()

    if args.select:
        progs = [p.strip() for p in sys.stdin if p.strip()]
        print(','.join(p for p in progs if program_selected(p, args.filter)))
        return 0

    console = read_lines(os.path.join(OUT, 'console.log'))
    tests = read_lines(os.path.join(OUT, 'tests.log'))
    try:
        with open(os.path.join(OUT, 'boot.status')) as f:
            guest_status = f.readline().strip()
    except FileNotFoundError:
        guest_status = 'did not boot'
    programs = [p for p in args.programs.split(',') if p]

    root = Test('all')
    kunit = Test('kunit')
    suites = parse_kunit(console or [])
    if suites is None:
        kunit.children.append(Test('kunit.output', 'error',
                                   'ERROR no KUnit output on the console'))
    else:
        kunit.children = suites
    mm = parse_programs(tests, programs, args.timeout, guest_status)
    kselftest = Test('mm')
    kselftest.children = mm
    root.children = [kunit, kselftest]
    filtered = keep(root, args.filter) if args.filter else 0
    root.children = [c for c in root.children if c.children]
    root.children.append(dmesg_clean(console, args.injected))

    print('KTAP version 1')
    if args.filter:
        skipped = [p for p in args.all_programs.split(',')
                   if p and p not in programs]
        print("# filter T='%s': %d tests filtered out%s" % (
            args.filter, filtered,
            ', programs not run: ' + ' '.join(skipped) if skipped else ''))
    print('1..%d' % len(root.children))
    for i, c in enumerate(root.children, 1):
        emit(c, i, 0, '')

    leaves = root.leaves()
    count = {k: sum(1 for l in leaves if l.status == k)
             for k in ('pass', 'fail', 'xfail', 'xpass', 'skip', 'error')}
    failed = [l.name for l in leaves if l.status in ('fail', 'xpass', 'error')]
    print('# Ran %d tests: passed: %d, failed: %d, xfail: %d, xpass: %d, '
          'skipped: %d, errors: %d' % (len(leaves), count['pass'],
                                        count['fail'], count['xfail'],
                                        count['xpass'], count['skip'],
                                        count['error']))
    if failed:
        print('# Failures: ' + ', '.join(failed[:30]) +
              (' ...' if len(failed) > 30 else ''))
        print('# Logs: out/console.log (kernel), out/tests.log (tests)')
    print('# Totals: pass:%d fail:%d xfail:%d xpass:%d skip:%d error:%d' % (
        count['pass'], count['fail'], count['xfail'], count['xpass'],
        count['skip'], count['error']))
    print('%d passed, %d failed, %d skipped' % (
        count['pass'] + count['xfail'], len(failed), count['skip']))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
