#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make profile: where the guest's instructions go in one run of benchmark
cases, per kernel function, on the series and on its reference kernel.

Usage: profile.py --prog PROGRAM --cases CASE[,CASE...]
                  [--kernels patched,vanilla] [--top N] [--run R]

It boots each kernel of out/bench/<kernel>/ (left there by make bench)
under QEMU -icount, as make bench does, with two more channels: a third
serial port on which the program says "start <case>" and "stop <case>"
around the timed region of its run R (bench_gate() of bench/bench_util.h),
with every case's memory divided by --shrink (BENCH_SHRINK, default 16),
and the QEMU monitor.  At "start" the host turns on QEMU's log of every
translation block executed (-d exec,nochain), into a file of the case's
own; at "stop" it turns it off again.  QEMU logs every block it translates
throughout (-d in_asm), which gives each block's instruction count, and
never chains blocks (-d nochain), so that every block executed is logged.  The
sum over the executed blocks is the run's instruction count; the blocks'
addresses, looked up in the kernel's System.map, say which function each
instruction ran in.  User space counts as one entry.

The listing gives, per case, the functions with the most instructions on
either kernel, their instructions per page (the case's page count) on each
kernel and the difference, and the traced total against the figure the
benchmark measured in the same run.  Output: out/bench/profile/report.txt.
"""
import argparse
import bisect
import collections
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'out', 'bench')
TRACE = re.compile(r'^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/[0-9a-f]+/'
                   r'([0-9a-f]+)\]')
CF_COUNT_MASK = 0x1ff	# a block cut short for -icount: its instruction count
INSN = re.compile(r'^0x([0-9a-f]+):  ')


def connect(path, deadline):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class Monitor:
    """The QEMU human monitor on a unix socket."""

    def __init__(self, path, deadline):
        self.s = connect(path, deadline)
        self.read_prompt()

    def read_prompt(self):
        buf = b''
        while not buf.endswith(b'(qemu) '):
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError('monitor closed')
            buf += chunk
        return buf

    def cmd(self, line):
        self.s.sendall(line.encode() + b'\n')
        return self.read_prompt()


def gatekeeper(gate_path, mon_path, logdir, errors):
    """Serve the guest's start/stop requests until the guest goes away."""
    try:
        deadline = time.time() + 120
        gate = connect(gate_path, deadline)
        mon = Monitor(mon_path, deadline)
        base = os.path.join(logdir, 'translations.log')
        buf = b''
        while True:
            chunk = gate.recv(4096)
            if not chunk:
                return
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                words = line.decode(errors='replace').split()
                if len(words) != 2 or words[0] not in ('start', 'stop'):
                    continue
                if words[0] == 'start':
                    mon.cmd('logfile %s' % os.path.join(logdir,
                                                        words[1] + '.log'))
                    mon.cmd('log in_asm,exec,nochain')
                else:
                    mon.cmd('log in_asm,nochain')
                    mon.cmd('logfile %s' % base)
                gate.sendall(b'g')
    except (OSError, EOFError) as e:
        errors.append(str(e))


def boot(kernel, prog, cases, run, timeout, shrink):
    """Boot @kernel's image with the gate; its log directory."""
    src = os.path.join(BENCH, kernel)
    d = os.path.join(BENCH, 'profile', kernel)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in ('bzImage', 'initramfs.cpio'):
        if not os.path.exists(os.path.join(src, f)):
            sys.exit('profile: no %s in %s: run make bench first' % (f, src))
        shutil.copy(os.path.join(src, f), d)
    gate, mon = os.path.join(d, 'gate.sock'), os.path.join(d, 'mon.sock')
    extra = ('-chardev socket,id=gate,path=%s,server=on,wait=off '
             '-serial chardev:gate -monitor unix:%s,server=on,wait=off '
             '-d in_asm,nochain -D %s' % (gate, mon,
                                         os.path.join(d, 'translations.log')))
    env = dict(os.environ, MMX_OUT=d, MMX_ICOUNT='1', MMX_QEMU_EXTRA=extra,
               MMX_MEM=os.environ.get('MMX_MEM', '3G'))
    errors = []
    t = threading.Thread(target=gatekeeper, args=(gate, mon, d, errors),
                         daemon=True)
    t.start()
    print('profile: %s kernel: %s %s' % (kernel, prog, ','.join(cases)),
          file=sys.stderr)
    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'boot.py'),
                    '--mode', 'bench', '--tests', prog, '--ntests', '1',
                    '--timeout', str(timeout),
                    '--env', 'BENCH_GATE=1', '--env', 'BENCH_GATE_RUN=%d' % run,
                    '--env', 'BENCH_SHRINK=%d' % shrink,
                    '--env', 'BENCH_CASES=' + ','.join(cases)], env=env,
                   check=False)
    t.join(5)
    if errors:
        print('profile: gate: %s' % errors[0], file=sys.stderr)
    return d


def block_sizes(logdir):
    """{block address: instructions} from every in_asm listing: the
    largest, since -icount translates blocks cut short too (their trace
    line says how many instructions they have)."""
    sizes = {}
    for name in os.listdir(logdir):
        if not name.endswith('.log') or name in ('console.log', 'tests.log'):
            continue
        start, n = None, 0
        with open(os.path.join(logdir, name), errors='replace') as f:
            for line in f:
                m = INSN.match(line)
                if m:
                    if start is None:
                        start = int(m.group(1), 16)
                    n += 1
                elif start is not None:
                    sizes[start] = max(n, sizes.get(start, 0))
                    start, n = None, 0
        if start is not None:
            sizes[start] = max(n, sizes.get(start, 0))
    return sizes


def symbols(system_map):
    addrs, names = [], []
    with open(system_map) as f:
        for line in f:
            a, t, name = line.split()[:3]
            if t in 'tTwW':
                addrs.append(int(a, 16))
                names.append(name)
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def profile_case(path, sizes, syms):
    """{function: instructions}, blocks without a size, total."""
    addrs, names = syms
    per = collections.Counter()
    unknown = 0
    execs = collections.Counter()
    with open(path, errors='replace') as f:
        for line in f:
            m = TRACE.match(line)
            if m:
                execs[(int(m.group(1), 16),
                       int(m.group(2), 16) & CF_COUNT_MASK)] += 1
    for (pc, count), n in execs.items():
        size = sizes.get(pc)
        if size is None:
            unknown += n
            continue
        if count:
            size = min(size, count)
        if pc < 0xffff800000000000:
            fn = '(user space)'
        else:
            i = bisect.bisect_right(addrs, pc) - 1
            fn = names[i] if i >= 0 else '(unknown)'
        per[fn] += n * size
    return per, unknown


def measured(logdir, case, run):
    """The run's time (instructions) and the case's page count."""
    runs, pages = None, None
    try:
        with open(os.path.join(logdir, 'tests.log')) as f:
            for line in f:
                w = line.split()
                if line.startswith('# %s runs_ns:' % case):
                    runs = [int(x) for x in w[3:]]
                elif w[:3] == ['bench', case, 'pages']:
                    pages = int(float(w[3]))
    except FileNotFoundError:
        pass
    return (runs[run] if runs and run < len(runs) else None), pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--prog', required=True)
    ap.add_argument('--cases', required=True)
    ap.add_argument('--kernels', default='patched,vanilla')
    ap.add_argument('--top', type=int, default=25)
    ap.add_argument('--run', type=int, default=4)
    ap.add_argument('--timeout', type=int, default=1800)
    ap.add_argument('--shrink', type=int, default=16,
                    help='BENCH_SHRINK: the cases\' memory divided by this')
    ap.add_argument('--no-boot', action='store_true',
                    help='list the traces of the last run again')
    args = ap.parse_args()
    cases = args.cases.split(',')
    kernels = args.kernels.split(',')

    results = {}
    for k in kernels:
        if args.no_boot:
            d = os.path.join(BENCH, 'profile', k)
        else:
            d = boot(k, args.prog, cases, args.run, args.timeout,
                     args.shrink)
        smap = os.path.join(BENCH, k, 'System.map')
        if not os.path.exists(smap):
            sys.exit('profile: no %s: run make bench first' % smap)
        syms = symbols(smap)
        sizes = block_sizes(d)
        for c in cases:
            path = os.path.join(d, c + '.log')
            if not os.path.exists(path):
                print('profile: %s: no trace of %s' % (k, c), file=sys.stderr)
                continue
            per, unknown = profile_case(path, sizes, syms)
            ns, pages = measured(d, c, args.run)
            results[(k, c)] = (per, unknown, ns, pages)

    out = []
    for c in cases:
        have = [k for k in kernels if (k, c) in results]
        if not have:
            out.append('# %s: no trace' % c)
            continue
        pages = next((results[(k, c)][3] for k in have
                      if results[(k, c)][3]), None) or 1
        out.append('# %s: instructions per page (%d pages), run %d' %
                   (c, pages, args.run))
        for k in have:
            per, unknown, ns, _ = results[(k, c)]
            total = sum(per.values())
            out.append('#   %s: traced %d, measured %s, blocks without a '
                       'size %d' % (k, total, ns, unknown))
        fns = collections.Counter()
        for k in have:
            for fn, n in results[(k, c)][0].items():
                fns[fn] = max(fns[fn], n)
        head = '%-40s' + ' %12s' * len(have) + (' %10s' if len(have) == 2 else '')
        out.append(head % (('function',) + tuple(have) +
                           (('difference',) if len(have) == 2 else ())))
        rows = sorted(fns, key=lambda fn: -fns[fn])[:args.top]
        for fn in rows:
            v = [results[(k, c)][0].get(fn, 0) / pages for k in have]
            cells = tuple('%.2f' % x for x in v)
            if len(have) == 2:
                cells += ('%+.2f' % (v[0] - v[1]),)
            out.append(head % ((fn,) + cells))
        if len(have) == 2:
            # where the two kernels differ most, beyond the top functions
            diff = sorted(fns, key=lambda fn: -abs(
                results[(have[0], c)][0].get(fn, 0) -
                results[(have[1], c)][0].get(fn, 0)))[:10]
            out.append('# largest differences:')
            for fn in diff:
                v = [results[(k, c)][0].get(fn, 0) / pages for k in have]
                out.append(head % ((fn,) + tuple('%.2f' % x for x in v) +
                                   ('%+.2f' % (v[0] - v[1]),)))
            tot = [sum(results[(k, c)][0].values()) / pages for k in have]
            out.append(head % (('(total traced)',) + tuple('%.2f' % x for x in tot)
                               + ('%+.2f' % (tot[0] - tot[1]),)))
        out.append('')
    os.makedirs(os.path.join(BENCH, 'profile'), exist_ok=True)
    with open(os.path.join(BENCH, 'profile', 'report.txt'), 'w') as f:
        f.write('\n'.join(out) + '\n')
    print('\n'.join(out))


if __name__ == '__main__':
    main()
