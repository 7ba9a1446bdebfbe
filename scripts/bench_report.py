#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Table of the benchmark figures: the patched kernel against each
program's reference kernel.

Usage: bench_report.py OUTDIR PROGRAM=REFERENCE...

Prints the table, and writes OUTDIR/report.json (every figure of both
kernels and its ratio, and what went wrong), OUTDIR/report.md (the
table for the README) and, when gnuplot is there,
OUTDIR/report.png: instructions per page of every case with a per-page
figure, the reference beside the patched kernel, and the ratio above.

OUTDIR holds one directory per kernel (patched and the references named),
each with the guest's tests.log, console.log and boot.status and the
kernel's config.  A benchmark program prints lines
"bench <case> <figure> <value>" between the guest's "MMX-BEGIN <program>"
and "MMX-END <program> rc=N" lines.

Every figure gets the ratio patched/reference, except spread_pct (the
spread of a case's runs, (max - min) / median), shown for both kernels as
it is.  Exit status 1 if a program failed or gave no figures, a guest did
not finish, or the patched kernel logged a splat (as dmesg_clean in make
check); a reference kernel's splat is only noted.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

NO_RATIO = ('spread_pct',)
HEAD = '%-22s %-15s %-12s %13s %13s %7s'


def read_log(path):
    """{program: [rc or None, [(case, figure, value)], [comment lines]]}"""
    progs, cur = {}, None
    for line in report.read_lines(path) or []:
        f = line.split()
        if line.startswith('MMX-BEGIN ') and len(f) == 2:
            cur = f[1]
            progs[cur] = [None, [], []]
        elif line.startswith('MMX-END ') and cur:
            for w in f[2:]:
                if w.startswith('rc='):
                    progs[cur][0] = int(w[3:])
            cur = None
        elif cur and len(f) == 4 and f[0] == 'bench':
            try:
                progs[cur][1].append((f[1], f[2], float(f[3])))
            except ValueError:
                progs[cur][2].append(line)
        elif cur and line.startswith('#'):
            progs[cur][2].append(line)
    return progs


def read_status(path):
    lines = report.read_lines(path)
    return lines[0].strip() if lines else 'not booted'


def read_config(path):
    return {l.strip() for l in report.read_lines(path) or []
            if l.startswith('CONFIG_')}


def fmt(v):
    if v is None:
        return '-'
    return '%.0f' % v if v >= 100 else '%.3g' % v


def splat(out, kernel):
    """The first kernel splat in the kernel's console log, or None."""
    test = report.dmesg_clean(
        report.read_lines(os.path.join(out, kernel, 'console.log')))
    if test.status == 'pass':
        return None
    return (test.diag or [test.directive])[0].lstrip('# ')


def problems(out, kernels, refs, logs):
    """Lines on what went wrong; none if every figure can be trusted."""
    lines = []
    for k in kernels:
        status = read_status(os.path.join(out, k, 'boot.status'))
        if status != 'exited':
            lines.append('# %s kernel: guest %s' % (k, status))
    text = splat(out, 'patched')
    if text:
        lines.append('# patched kernel: console: %s' % text)
    for prog, ref in refs.items():
        for k in ('patched', ref):
            rc, figs, notes = logs[k].get(prog, (None, [], []))
            if rc == 0 and figs:
                continue
            lines.append('# %s on the %s kernel: %s' % (
                prog, k, 'no figures' if rc == 0 else
                'did not finish' if rc is None else 'exit status %d' % rc))
            lines += ['#   ' + n.lstrip('# ') for n in notes[-5:]]
    return lines


def figures(refs, logs):
    """[(program, reference, case, figure, reference value, patched value)]
    in the order the programs printed them."""
    rows = []
    for prog, ref in refs.items():
        pl = logs['patched'].get(prog, [0, []])[1]
        rl = logs[ref].get(prog, [0, []])[1]
        p = {(c, f): v for c, f, v in pl}
        r = {(c, f): v for c, f, v in rl}
        for key in dict.fromkeys([(c, f) for c, f, v in pl + rl]):
            rows.append((prog, ref) + key + (r.get(key), p.get(key)))
    return rows


def ratio_of(figure, rv, pv):
    if figure in NO_RATIO or pv is None or not rv:
        return None
    return pv / rv


def write_markdown(path, rows, profile):
    """The README's table: per case, instructions per page on both
    kernels (or the median, for a case without a per-page figure) and the
    ratio of the medians."""
    med = {(p, c): (rv, pv) for p, ref, c, f, rv, pv in rows
           if f == 'median_ns'}
    lines = ['Guest instructions, %s profile; ratio = series / reference '
             '(medians).' % profile, '',
             '| program | case | reference | per page: reference | '
             'per page: series | ratio |', '|---|---|---|---:|---:|---:|']
    seen = set()
    for p, ref, c, f, rv, pv in rows:
        if (p, c) in seen or (p, c) not in med:
            continue
        seen.add((p, c))
        per = {f2: (rv2, pv2) for p2, _, c2, f2, rv2, pv2 in rows
               if (p2, c2) == (p, c)}
        mr, mp = med[(p, c)]
        r, q = per.get('ns_per_page', (None, None))
        cell = lambda v: '-' if v is None else fmt(v)
        ratio = '%.3f' % (mp / mr) if mr and mp else '-'
        lines.append('| %s | %s | %s | %s | %s | %s |' % (
            p, c, ref, cell(r), cell(q), ratio))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def write_json(path, rows, bad, profile):
    doc = {'unit': 'guest instructions (QEMU -icount shift=0,sleep=off)',
           'profile': profile, 'ok': not bad,
           'problems': [l.lstrip('# ') for l in bad], 'programs': {}}
    for prog, ref, case, fig, rv, pv in rows:
        p = doc['programs'].setdefault(prog, {'reference': ref, 'cases': {}})
        r = ratio_of(fig, rv, pv)
        p['cases'].setdefault(case, {})[fig] = {
            'reference': rv, 'patched': pv,
            'ratio': None if r is None else round(r, 4)}
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write('\n')


PLOT = """set terminal pngcairo size %(w)d,720 font 'sans,10' noenhanced
set output '%(png)s'
set title "%(title)s"
set ylabel 'guest instructions per 4 KiB page (log scale)'
set logscale y
set yrange [%(ymin)g:%(ymax)g]
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -40 scale 0 font ',9'
set key top left
set grid ytics
plot '%(dat)s' using 2:xtic(1) title 'reference (vanilla, or the base walker)' lc rgb '#7f7f7f', \\
     '' using 3 title 'series' lc rgb '#1f77b4', \\
     '' using 0:(($2 > $3 ? $2 : $3) * 1.25):4 with labels notitle font ',8'
"""


def write_plot(out, rows, profile):
    """report.png from the ns_per_page rows; a note line on why not, or None."""
    med = {case: (rv, pv) for prog, ref, case, fig, rv, pv in rows
           if fig == 'median_ns' and rv and pv}
    # the ratio of the medians: ns_per_page is rounded
    data = [(case, rv, pv, med.get(case, (rv, pv)))
            for prog, ref, case, fig, rv, pv in rows
            if fig == 'ns_per_page' and rv and pv]
    if not data:
        return '# no case with a per-page figure on both kernels: no plot'
    if not shutil.which('gnuplot'):
        return '# no gnuplot: no plot'
    dat = os.path.join(out, 'report.dat')
    with open(dat, 'w') as f:
        for case, rv, pv, (mr, mp) in data:
            f.write('"%s" %.1f %.1f "%.3f"\n' % (case, rv, pv, mp / mr))
    vals = [v for _, rv, pv, _ in data for v in (rv, pv)]
    gp = os.path.join(out, 'report.gp')
    with open(gp, 'w') as f:
        f.write(PLOT % {'w': max(900, 60 * len(data)),
                        'png': os.path.join(out, 'report.png'),
                        'title': 'make bench, %s profile: reference and series'
                                 ' (ratio series/reference above)' % profile,
                        'ymin': min(vals) / 2, 'ymax': max(vals) * 4,
                        'dat': dat})
    res = subprocess.run(['gnuplot', gp], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    if res.returncode:
        return '# gnuplot failed: %s' % res.stdout.strip().splitlines()[-1:]
    return None


def table(refs, logs):
    lines = ['# guest time under -icount shift=0,sleep=off '
             '(1 ns per executed instruction)',
             HEAD % ('case', 'figure', 'reference', 'reference', 'patched',
                     'ratio')]
    worst = {}
    for prog, ref, case, fig, rv, pv in figures(refs, logs):
        r = ratio_of(fig, rv, pv)
        if r is not None and fig == 'median_ns' and r > worst.get(ref, (0,))[0]:
            worst[ref] = (r, case)
        lines.append(HEAD % (case, fig, ref, fmt(rv), fmt(pv),
                             '-' if r is None else '%.3f' % r))
    for ref, (ratio, case) in sorted(worst.items()):
        lines.append('# highest median_ns ratio against %s: %.3f (%s)' % (
            ref, ratio, case))
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0]
    refs = dict(a.split('=', 1) for a in argv[1:])
    kernels = ['patched'] + sorted(set(refs.values()))
    logs = {k: read_log(os.path.join(out, k, 'tests.log')) for k in kernels}

    bad = problems(out, kernels, refs, logs)
    profile = os.environ.get('MMX_BENCH_PROFILE', 'bench')
    lines = ['# profile: %s' % profile] + bad + table(refs, logs)
    # A reference kernel may well have the splats the series removes; its
    # figures then include their cost.
    for ref in kernels[1:]:
        text = splat(out, ref)
        if text:
            lines.append('# %s kernel (a reference, not a failure): console: %s'
                         % (ref, text))
    pb = {(c, f): v for prog in logs['patched'].values() for c, f, v in prog[1]}
    base = pb.get(('clean_record_1g_base', 'pages_per_s'))
    thp = pb.get(('clean_record_1g_thp', 'pages_per_s'))
    if base and thp:
        lines.append('# patched: THP pages/s over base pages/s: %.1fx' %
                     (thp / base))
    pc = read_config(os.path.join(out, 'patched', 'config'))
    for ref in kernels[1:]:
        rc = read_config(os.path.join(out, ref, 'config'))
        if pc and rc:
            lines.append('# config against %s: patched only: %s; %s only: %s'
                         % (ref, ' '.join(sorted(pc - rc)) or 'none', ref,
                            ' '.join(sorted(rc - pc)) or 'none'))
    rows = figures(refs, logs)
    write_json(os.path.join(out, "report.json"), rows, bad, profile)
    write_markdown(os.path.join(out, 'report.md'), rows, profile)
    note = write_plot(out, rows, profile)
    if note:
        lines.append(note)
    print('\n'.join(lines))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
