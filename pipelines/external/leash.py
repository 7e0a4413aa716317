"""The leader of an external crawler's process group: ties the group to the task process.

    python -I -S leash.py PARENT_PID GRACE_SECONDS COMMAND [ARG ...]

child.py starts this in a new session, so its pid is the group's id and
everything COMMAND starts is in the group. Run by path with `-I -S` (no site,
no PYTHONPATH, nothing of crawlops imported): it costs a bare interpreter.

- It asks the kernel for SIGTERM when the task process dies (prctl
  PR_SET_PDEATHSIG) and checks that the parent did not die before that.
- On SIGTERM (the parent's death, or child.py stopping the group) it sends
  SIGTERM to the whole group, and SIGKILL to the whole group, itself
  included, once COMMAND has exited or GRACE_SECONDS have passed. So a
  hard-killed worker (SIGKILL, OOM) leaves neither the crawler nor what the
  crawler started.
- Otherwise it waits for COMMAND and ends as it did: the same exit code, or
  the same signal. Stdin, stdout and stderr are COMMAND's own (inherited).

Why not prctl in a preexec_fn: running Python code between fork and exec in
a threaded task process can deadlock, and the death signal would reach only
the crawler, not its own children. Exit 127 with a sentence on stderr when
COMMAND cannot be started.
"""

import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
_stop_at = []  # set once: when the group gets SIGKILL


def _on_sigterm(signum, frame):
    if not _stop_at:
        _stop_at.append(time.monotonic() + _grace)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # our own killpg must not land here again
        os.killpg(0, signal.SIGTERM)


def _start(argv):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"cannot start {argv[0]!r}: {exc.strerror}\n".encode())
        os._exit(127)
    return pid


def _wait(pid):
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if _stop_at and time.monotonic() >= _stop_at[0]:
            os.killpg(0, signal.SIGKILL)
        time.sleep(0.05)


def main():
    global _grace
    parent, _grace, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker's own SIGTERM handler still stops the group
        pass
    signal.signal(signal.SIGTERM, _on_sigterm)
    if os.getppid() != parent:  # the parent died before prctl: no signal would ever come
        sys.exit(143)
    code = _wait(_start(argv))
    if _stop_at:  # stopping: whatever COMMAND left in the group goes with it
        os.killpg(0, signal.SIGKILL)
    if code < 0:  # end as COMMAND did, so the task can name the signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    sys.exit(code)


_grace = 10.0
main()
