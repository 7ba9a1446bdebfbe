#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot out/bzImage with out/initramfs.cpio under QEMU.

Modes: check (run the selftests), run (the demonstration, streamed to
stdout as it runs), shell (interactive console).  The kernel console goes
to out/console.log and the test channel (ttyS1) to out/tests.log.  A host-side watchdog ends a guest
that overruns; KVM is used only with MMX_KVM=1.  The guest has two NUMA
nodes (numa_args()).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ.get('MMX_OUT') or os.path.join(ROOT, 'out')
BOOT_ALLOWANCE = 240      # seconds for boot, KUnit and shutdown under TCG


def mem_mib(text):
    """MMX_MEM ('2G', '1536M', '1536': QEMU's -m syntax) in MiB."""
    m = re.fullmatch(r'(\d+)([MG]?)B?', text.strip().upper())
    if not m:
        sys.exit('mmx: MMX_MEM=%s: expected a size such as 2G or 1536M' % text)
    return int(m.group(1)) * (1024 if m.group(2) == 'G' else 1)


def numa_args(mem, cpus):
    """Two NUMA nodes, so that pages can be migrated between nodes.

    Node 0 has the CPUs and half of the memory (a multiple of 8 MiB), node 1
    the rest of the memory only: CPUs of one socket on two nodes would make
    the guest kernel warn about its topology.
    """
    m0 = mem // 2 // 8 * 8
    return ['-object', 'memory-backend-ram,id=m0,size=%dM' % m0,
            '-object', 'memory-backend-ram,id=m1,size=%dM' % (mem - m0),
            '-numa', 'node,nodeid=0,cpus=0-%d,memdev=m0' % (cpus - 1),
            '-numa', 'node,nodeid=1,memdev=m1']


def qemu_cmd(mode, append, console, tests):
    accel = 'kvm' if os.environ.get('MMX_KVM') == '1' else 'tcg'
    mem = mem_mib(os.environ.get('MMX_MEM', '2G'))
    cpus = int(os.environ.get('MMX_CPUS', '2'))
    cmd = ['qemu-system-x86_64', '-accel', accel, '-nodefaults',
           '-display', 'none', '-no-reboot', '-m', '%dM' % mem,
           '-smp', str(cpus)] + numa_args(mem, cpus) + [
           '-kernel', os.path.join(OUT, 'bzImage'),
           '-initrd', os.path.join(OUT, 'initramfs.cpio'),
           '-append', append]
    if os.environ.get('MMX_ICOUNT') == '1':
        cmd += ['-icount', 'shift=0,sleep=off']
    if mode == 'shell':
        cmd += ['-serial', 'mon:stdio', '-serial', 'file:' + tests]
    else:
        cmd += ['-serial', 'file:' + console, '-serial', 'file:' + tests]
    # make profile: a third serial port to gate the trace, the monitor, and
    # QEMU's log
    return cmd + shlex.split(os.environ.get('MMX_QEMU_EXTRA', ''))


def follow(path, pos):
    """Return (new complete lines, new position) of a growing file."""
    try:
        with open(path, 'rb') as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return [], pos
    end = data.rfind(b'\n')
    if end < 0:
        return [], pos
    chunk = data[:end + 1].decode('utf-8', 'replace')
    return chunk.replace('\r', '').splitlines(), pos + end + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', default='check',
                    choices=['check', 'run', 'bench', 'stress', 'shell'])
    ap.add_argument('--tests', default='', help='comma-separated programs')
    ap.add_argument('--timeout', type=int, default=300, help='per program')
    ap.add_argument('--ntests', type=int, default=1)
    ap.add_argument('--secs', type=int, default=0, help='stress run time')
    ap.add_argument('--env', action='append', default=[],
                    help='KEY=VALUE for the guest programs\' environment')
    args = ap.parse_args()

    console = os.path.join(OUT, 'console.log')
    tests = os.path.join(OUT, 'tests.log')
    status = os.path.join(OUT, 'boot.status')
    for p in (console, tests, status):
        if os.path.exists(p):
            os.unlink(p)
    append = 'console=ttyS0 panic=-1 printk.time=1 printk.devkmsg=on mmx.mode=%s mmx.timeout=%d' % (
        args.mode, args.timeout)
    if args.tests:
        append += ' mmx.tests=' + args.tests
    if args.secs:
        append += ' mmx.secs=%d' % args.secs
    for kv in args.env:
        if not re.fullmatch(r'[A-Z_][A-Z0-9_]*=[^\s]*', kv):
            sys.exit('boot.py: --env wants KEY=VALUE without spaces: %r' % kv)
        append += ' mmx.env.' + kv
    cmd = qemu_cmd(args.mode, append, console, tests)
    with open(os.path.join(OUT, 'qemu.cmd'), 'w') as f:
        f.write(' '.join(cmd) + '\n')

    if args.mode == 'shell':
        sys.exit(subprocess.call(cmd))

    limit = BOOT_ALLOWANCE + args.ntests * (args.timeout + 30)
    stdin = subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdin=stdin)
    start = time.time()
    pos, current, since = 0, None, start
    verdict = 'exited'
    demo_ok = False
    while proc.poll() is None:
        time.sleep(0.5)
        now = time.time()
        lines, pos = follow(tests, pos)
        if args.mode == 'run':
            for line in lines:
                if line == 'MMX-DONE':
                    continue
                print(line, flush=True)
                if line.startswith('All scenarios behaved'):
                    demo_ok = True
        else:
            for line in lines:
                if line.startswith('MMX-BEGIN '):
                    current, since = line.split()[1], now
                    print('mmx: running %s' % current, file=sys.stderr)
                elif line.startswith('MMX-END '):
                    print('mmx: %s' % line[8:], file=sys.stderr)
                    current = None
            # The guest's own timeout did not fire: the kernel is stuck.
            if current and now - since > args.timeout + 60:
                verdict = 'hung in %s' % current
                break
        if now - start > limit:
            verdict = 'watchdog after %d s' % limit
            break
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        print('mmx: guest killed: %s' % verdict, file=sys.stderr)
    with open(status, 'w') as f:
        f.write('%s\n%d\n' % (verdict, int(time.time() - start)))
    print('mmx: guest ran %d s (%s)' % (time.time() - start, verdict),
          file=sys.stderr)
    if args.mode == 'run':
        for line in follow(tests, pos)[0]:
            if line != 'MMX-DONE':
                print(line, flush=True)
            demo_ok = demo_ok or line.startswith('All scenarios behaved')
        sys.exit(0 if demo_ok else 1)


if __name__ == '__main__':
    main()
