#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Which of the series' error paths the kernel ran (make faultinject).

Reads the kernel's gcov data that the guest dumped to the test channel
(MMX-GCOV blocks of base64 in out/tests.log), puts each .gcda beside its
.gcno from the kbuild output, lets gcov count the lines, and looks up the
lines scripts/error-paths names.  Prints KTAP: one case per path with its
count; a required path that never ran fails.

A path whose error return the compiler merged into a shared line, or that
an inlined caller hides, is found in the stack traces of the injected
failures instead (CONSOLE_LOG): a frame "callee" right above "caller".

usage: gcov_paths.py TESTS_LOG CONSOLE_LOG OBJDIR SRCDIR SPEC
"""
import base64
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def gcda_blocks(log):
    """{path relative to the kbuild output: bytes} from the test channel."""
    out, name, chunks = {}, None, []
    with open(log, errors='replace') as f:
        for line in f:
            line = line.rstrip('\r\n')
            if line.startswith('MMX-GCOV '):
                name, chunks = line.split(' ', 1)[1], []
            elif line == 'MMX-GCOV-END' and name:
                rel = name[name.rfind('/mm/') + 1:] if '/mm/' in name else name
                out[rel] = base64.b64decode(''.join(chunks))
                name = None
            elif name:
                chunks.append(line.strip())
    return out


def line_counts(gcda, objdir):
    """{source basename: {line: count}} from gcov's JSON output."""
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, data in gcda.items():
            gcno = os.path.join(objdir, rel[:-len('.gcda')] + '.gcno')
            if not os.path.exists(gcno):
                continue
            dst = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, 'wb') as f:
                f.write(data)
            shutil.copy(gcno, dst[:-len('.gcda')] + '.gcno')
            res = subprocess.run(['gcov', '--json-format', '--stdout', dst],
                                 cwd=tmp, check=True, capture_output=True)
            for doc in res.stdout.decode().splitlines():
                if not doc.strip():
                    continue
                for fl in json.loads(doc)['files']:
                    key = fl['file']
                    if '/mm/' in key:
                        key = key[key.rfind('/mm/') + 1:]
                    per = counts.setdefault(key, {})
                    for ln in fl['lines']:
                        n = ln['line_number']
                        per[n] = per.get(n, 0) + ln['count']
    return counts


FRAME = re.compile(r'^\[[^]]*\]\s+([A-Za-z0-9_.]+)\+0x')


def trace_pairs(console):
    """{(callee, caller): n} over the stack traces of injected failures."""
    pairs, frames, inside = {}, [], False
    with open(console, errors='replace') as f:
        for line in f:
            if 'FAULT_INJECTION: forcing a failure' in line:
                inside, frames = True, []
                continue
            if not inside:
                continue
            m = FRAME.match(line)
            if m:
                frames.append(m.group(1))
            elif frames and 'RIP: 0033' in line or 'entry_SYSCALL' in line:
                for a, b in zip(frames, frames[1:]):
                    pairs[(a, b)] = pairs.get((a, b), 0) + 1
                inside = False
    return pairs


def find_line(src, func, anchor, offset):
    """The line number `offset` lines after the anchor in `func`."""
    occ = 1
    if '#' in anchor:
        anchor, n = anchor.rsplit('#', 1)
        occ = int(n)
    with open(src) as f:
        lines = f.read().splitlines()
    start = None
    for i, l in enumerate(lines):
        if l and not l[0].isspace() and (func + '(') in l and \
                not l.rstrip().endswith(';'):
            start = i
            break
    if start is None:
        raise LookupError('no function %s in %s' % (func, src))
    seen = 0
    for i in range(start, len(lines)):
        if i > start and lines[i].startswith('}'):
            break
        if anchor in lines[i]:
            seen += 1
            if seen == occ:
                return i + 1 + offset
    raise LookupError('no "%s" (#%d) in %s()' % (anchor, occ, func))


def main():
    log, console, objdir, srcdir, spec = sys.argv[1:6]
    gcda = gcda_blocks(log)
    counts = line_counts(gcda, objdir) if gcda else {}
    pairs = trace_pairs(console)
    cases = []
    with open(spec) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            name, need, path, func, anchor, offset, what = \
                line.rstrip('\n').split('|')
            cases.append((name, need, path, func, anchor,
                          int(offset or 0), what))
    print('KTAP version 1')
    print('# error paths the run reached (gcov line counts, %d files)'
          % len(gcda))
    print('1..%d' % len(cases))
    failed = 0
    for i, (name, need, path, func, anchor, offset, what) in \
            enumerate(cases, 1):
        if path == 'trace':
            callee, caller = func.split('>')
            n = pairs.get((callee, caller), 0)
            print('# %s: %s called from %s in an injected failure, %s'
                  % (name, callee, caller, what))
            if n:
                print('ok %d %s # %d injected failures there' % (i, name, n))
            elif need == 'required':
                print('not ok %d %s # no injected failure there' % (i, name))
                failed += 1
            else:
                print('ok %d %s # SKIP no injected failure there' % (i, name))
            continue
        try:
            ln = find_line(os.path.join(srcdir, path), func, anchor, offset)
        except LookupError as e:
            print('not ok %d %s # %s' % (i, name, e))
            failed += 1
            continue
        per = counts.get(path)
        print('# %s: %s:%d, %s' % (name, path, ln, what))
        if per is None:
            print('not ok %d %s # no coverage data for %s' % (i, name, path))
            failed += 1
        elif ln not in per:
            print('not ok %d %s # %s:%d is no code line' % (i, name, path, ln))
            failed += 1
        elif per[ln] > 0:
            print('ok %d %s # ran %d times' % (i, name, per[ln]))
        elif need == 'required':
            print('not ok %d %s # never ran' % (i, name))
            failed += 1
        else:
            print('ok %d %s # SKIP never ran (not required: %s)'
                  % (i, name, 'needs a race or workload this run lacks'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
