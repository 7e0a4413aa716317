"""Started in place of an external crawler's command: ties it to the task process, then execs it.

    python -I -S leash.py PARENT_PID COMMAND [ARG ...]

Run by path with `-I -S` (no site, no PYTHONPATH, nothing of crawlops imported),
so it costs a bare interpreter start. It asks the kernel for SIGTERM when its
parent dies (prctl PR_SET_PDEATHSIG; kept across execve), checks that the
parent did not die before that (then the signal would never come), and execs
COMMAND in its own place: same pid, same process group (the session
child.py started), same pipes. A hard-killed worker (SIGKILL, OOM) thus
leaves no crawler running. No preexec_fn: forking a threaded task process
and running Python code before exec can deadlock.

Exit 127 with a sentence on stderr when COMMAND cannot be started.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main() -> None:
    parent, argv = int(sys.argv[1]), sys.argv[2:]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker's own SIGTERM handler still stops the group
        pass
    if os.getppid() != parent:  # the parent died before prctl: nobody would ever stop us
        sys.exit(143)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot start {argv[0]!r}: {exc.strerror}\n")
        sys.exit(127)


main()
