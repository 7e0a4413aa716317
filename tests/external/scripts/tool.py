"""A script the PythonScript tests run: one behaviour per first argument.

    tool.py wait FLAG          print two lines, wait for the file FLAG, print one more, exit 0
    tool.py fail CODE          a line on stdout, two on stderr, exit CODE
    tool.py spawn PIDFILE      start a grandchild (sleep), write both pids, then sleep
    tool.py hostile            HTML, a 2 MiB line, invalid UTF-8, a NUL and a secret; exit 0
    tool.py output COUNTER     append a line to COUNTER (how often it ran), write a file and stats, exit 0
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    mode, arg = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    if mode == "wait":
        print("started the slow part")
        print("still working", flush=True)
        flag = Path(arg)
        for _ in range(1200):  # at most 2 minutes, then fail: never hang a test run
            if flag.exists():
                print("finished")
                return 0
            time.sleep(0.1)
        return 9
    if mode == "fail":
        print("about to fail")
        sys.stderr.write("ERROR: the site said no\nTraceback: boom\n")
        return int(arg)
    if mode == "spawn":
        grandchild = subprocess.Popen(["sleep", "300"])
        Path(arg + ".tmp").write_text(f"{os.getpid()} {grandchild.pid}")
        os.replace(arg + ".tmp", arg)
        print(f"spawned {grandchild.pid}", flush=True)
        time.sleep(300)
        return 0
    if mode == "hostile":
        out = sys.stdout.buffer
        out.write(b"<script>alert('x')</script><b>bold</b>\n")
        out.write(b"A" * (2 * 1024 * 1024) + b" END\n")
        out.write(b"bad bytes \xff\xfe\xc3( here\n")
        out.write(b"nul \x00 inside\n")
        out.write(b"login password=hunter2-very-secret ok\n")
        out.write(b"last line\n")
        out.flush()
        return 0
    if mode == "output":
        with open(arg, "a", encoding="utf-8") as fh:
            fh.write("ran\n")
        outdir = Path(os.environ["CRAWLOPS_OUTPUT_DIR"])
        (outdir / "rows.jsonl").write_text('{"n": 1}\n{"n": 2}\n', encoding="utf-8")
        Path(os.environ["CRAWLOPS_STATS_FILE"]).write_text(json.dumps({"rows": 2}), encoding="utf-8")
        print(f"wrote 2 rows for {os.environ['CRAWLOPS_TICK']}")
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main())
