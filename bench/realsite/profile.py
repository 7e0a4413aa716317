"""Where our per-page CPU goes on real-sized pages: a py-spy profile of one crawl tick.

Usage (from the repository root)::

    .venv/bin/python bench/realsite/profile.py [--products 10000] [--rate 200] [--seed 1] [--keep]

What it does: writes the shop of ``shop.py``, serves it with nginx
(``nginx.py``), starts a real luigid (bench/crawl_vs_scrapy's harness), and
runs ``python -m luigi --module pipelines.tasks RunCrawl --crawl
bench/realsite/realsite.toml`` (FetchPages -> ParsePages -> StoreItems) with
``py-spy record --pid <worker> --subprocesses --nonblocking --format raw``
attached (idle samples off, py-spy's default; ``pip install py-spy`` into
the venv if it is missing). Each sample is one thread found running on a
CPU, so samples / rate = CPU seconds. Every sample is put into one activity
by the innermost frame that names one (see ``RULES``), and its stage by the
task or thread it ran in. The table gives ms of CPU per fetched page and the
share of the stage for each activity, for the fetch and the parse stages
(and the store stage and the rest). The worker's real CPU (rusage, with its
log-writer child) is printed beside the sampled total: the difference is
what py-spy could not see (mostly time in the kernel between samples and the
GIL hand-offs themselves: a thread waiting for the GIL sleeps, so it is
idle, not sampled), and context switches per page measure the hand-offs.

Results go to ``var/bench/realsite_profile.json``; the raw folded stacks to
``var/bench/realsite_profile.txt`` (``speedscope`` or ``flamegraph.pl`` read
them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "crawl_vs_scrapy"))

from harness import (  # noqa: E402
    REPO,
    BenchError,
    bench_env,
    code_label,
    export_code,
    free_port,
    luigi_cfg,
    luigid,
    machine_busy_seconds,
    machine_info,
)
from nginx import nginx  # noqa: E402
from shop import crawl_pages, write_site  # noqa: E402

SPEC = HERE / "realsite.toml"
TICK = "2026-01-01T0000"
OUT_JSON = REPO / "var" / "bench" / "realsite_profile.json"
OUT_RAW = REPO / "var" / "bench" / "realsite_profile.txt"

# (activity, substrings of a frame "function (file:line)"): a sample's activity is that of
# the innermost frame matching any rule; the order below only breaks ties within one frame.
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("WARC: gzip (zlib level 9, one member per record)", ("GzippingWrapper.",)),
    # since issue 11: the record (digests, gzip level 3) built in the fetch thread
    ("WARC: encode_response (digests + gzip, fetch thread)", ("encode_response", "_http_head (pipelines/warc.py")),
    ("WARC: digests (SHA-1 block + payload, base32)", ("ensure_digest", "Digester.")),
    ("WARC: record and header building", ("PageWriter.write", "warcio/warcwriter.py", "warcio/recordbuilder.py",
                                          "warcio/statusandheaders.py", "warcio/timeutils.py", "uuid.py")),
    ("WARC: reading back (gunzip, record parsing)", ("read_pages", "warcio/archiveiterator.py",
                                                      "warcio/recordloader.py", "warcio/bufferedreaders.py",
                                                      "warcio/limitreader.py")),
    ("charset detection (w3lib, charset_normalizer)", ("detect_encoding", "CharsetMiddleware", "charset_normalizer/",
                                                       "w3lib/encoding.py")),
    ("robots.txt check (Protego)", ("RobotsTxtMiddleware", "protego")),
    ("HTTP request/response (urllib3, http.client, socket)", ("HttpDownloader.", "urllib3/", "http/client.py",
                                                               "socket.py", "email/")),
    ("link extraction", ("extract_links", "links_of")),
    ("page process hand-off (frames, pipes, reply handling)", ("write_frame", "read_frame", "PageWork.",
                                                               "FetchSideLines.", "Crawler._page_done", "Unsent.")),
    ("outcome JSON lines (urls.jsonl)", ("Crawler._outcome",)),
    ("discovery (dedupe, follow rules, queues)", ("Crawler.discover", "Crawler._enqueue")),
    ("middleware chain (manager + other middlewares)", ("MiddlewareManager.", "pipelines/fetch/middlewares/",
                                                        "pipelines/fetch/middleware.py")),
    ("second HTML parse (parsel Selector)", ("Selector.__init__", "create_root_node", "parsel/selector.py:3",
                                             "_get_root")),
    ("field extraction (XPath, types, regexes)", ("Extractor._field", "Extractor.extract", "convert (pipelines/parse.py",
                                                  "_text (pipelines/parse.py", "item_key")),
    ("luigid status RPCs", ("set_status_message", "set_progress_percentage", "_status (pipelines/tasks.py",
                            "_progress (pipelines/tasks.py")),
    ("parse loop (page filter, stats)", ("is_item_page", "StoredPage.")),
    ("items JSON lines (items.jsonl)", ("ParsePages.run",)),
    ("store (read items, SQLAlchemy upsert, commit)", ("StoreItems.run", "store_items", "sqlalchemy/")),
    ("coordinator loop and thread hand-off (pool, result queue)", ("concurrent/futures/", "queue.py", "threading.py",
                                                                   "Crawler._work", "Crawler._submit_ready",
                                                                   "Crawler._release_due", "Crawler._next_wake",
                                                                   "Politeness.", "Crawler._handle", "Crawler._store",
                                                                   "Crawler.run")),
    ("run records and log capture", ("pipelines/runs/", "logging/")),
    ("start-up and imports", ("<module>", "importlib", "_find_and_load")),
    ("luigi worker and scheduling RPCs", ("luigi/",)),
]
LINK_PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("link extraction: lxml parse", ("document_fromstring", "lxml/html/__init__.py", "HTMLParser")),
    ("link extraction: URL join and normalise", ("urljoin", "urllib/parse.py", "normalize (pipelines/fetch/links.py",
                                                 "safe_url_string", "w3lib/url.py")),
]


WAITING = "waiting (a thread woken from a wait, not yet on a CPU)"
# Leaves where a thread blocks. Under load a woken thread is runnable ('R') before it gets a CPU,
# and py-spy counts runnable threads as active: such samples are waits, not work.
_WAIT_LEAVES = ("Condition.wait (threading.py", "Event.wait (threading.py", "get (queue.py", "do_poll (urllib3/",
                "select (selectors.py", "poll (selectors.py", "sleep")
_WAIT_LINES = (".get(", "sleep(", ".wait(", ".acquire(")


class StageClock:
    """CPU seconds of the worker process (all its threads, /proc/PID/stat) when each stage begins and ends.

    A stage's start and end are seen every 0.2 s as its output folders appear:
    ``fetch.tmp-PID`` (FetchPages started), ``fetch`` (done), ``parse`` (done).
    """

    def __init__(self, pid: int, tick: Path) -> None:
        self.pid, self.tick = pid, tick
        self.marks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> StageClock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _cpu(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _loop(self) -> None:
        checks = (("fetch_start", lambda: any(self.tick.glob("fetch.tmp-*")) or (self.tick / "fetch").exists()),
                  ("fetch_end", lambda: (self.tick / "fetch").exists()),
                  ("parse_end", lambda: (self.tick / "parse").exists()))
        while not self._stop.wait(0.2):
            cpu = self._cpu()
            if cpu is None:
                return
            for name, seen in checks:
                if name not in self.marks and seen():
                    self.marks[name] = cpu

    def stage_cpu(self) -> dict[str, float]:
        m = self.marks
        if not {"fetch_start", "fetch_end", "parse_end"} <= set(m):
            raise BenchError(f"the stage clock missed a stage boundary: {m}")
        return {"fetch": m["fetch_end"] - m["fetch_start"], "parse": m["parse_end"] - m["fetch_end"]}


def _waiting(leaf: str) -> bool:
    if any(w in leaf for w in _WAIT_LEAVES):
        return True
    if "_worker (concurrent/futures/thread.py" in leaf or "Crawler.run (pipelines/fetch/crawler.py" in leaf:
        return any(w in _source_line(leaf) for w in _WAIT_LINES)
    return False


CODE_DIR = [REPO]  # where the profiled pipelines/ came from (the export of --code), for _source_line


def _source_line(frame: str) -> str:
    """The source text of a frame's line ("f (pipelines/fetch/links.py:58)"), best effort."""
    try:
        location = frame.rsplit("(", 1)[1].rstrip(")")
        path, line = location.rsplit(":", 1)
        paths = sysconfig.get_paths()
        for base in (CODE_DIR[0], Path(paths["purelib"]), Path(paths["stdlib"])):
            if (base / path).exists():
                return (base / path).read_text(encoding="utf-8").splitlines()[int(line) - 1]
    except (IndexError, ValueError, OSError):
        pass
    return ""


def classify(frames: Sequence[str]) -> tuple[str, str]:
    """(stage, activity) of one sample; frames run from the root to the leaf."""
    joined = ";".join(frames)
    if not frames or _waiting(frames[-1]):
        return "waiting", WAITING
    if any(f.startswith("main (") and "pipelines/fetch/pagework.py" in f for f in frames):
        stage = "page process"  # FetchPages' child (parse_workers); its CPU is not in the worker's clock
    elif "FetchPages.run" in joined or "Crawler._work" in joined or "PageWork._read" in joined:
        stage = "fetch"
    elif "ParsePages.run" in joined:
        stage = "parse"
    elif "StoreItems.run" in joined:
        stage = "store"
    elif "pipelines/runs/writer.py" in joined:
        return "other", "run-log writer process"
    else:
        stage = "other"
    for depth in range(len(frames) - 1, -1, -1):
        frame = frames[depth]
        for activity, needles in RULES:
            if any(n in frame for n in needles):
                if activity == "link extraction":
                    return stage, _link_part(frames[depth:])
                if stage == "parse" and activity.startswith("WARC: record"):
                    return stage, "WARC: reading back (gunzip, record parsing)"  # the reader parses headers too
                if activity == "items JSON lines (items.jsonl)" and depth == len(frames) - 1:
                    # A leaf in ParsePages.run itself: the line says what it does.
                    line = _source_line(frame)
                    if "json.dumps" not in line and ".write(" not in line:
                        return stage, "parse loop (page filter, stats)"
                return stage, activity
    return stage, "other"


def _link_part(frames: Sequence[str]) -> str:
    below = frames[1:]
    for part, needles in LINK_PARTS:
        if any(n in f for f in below for n in needles):
            return part
    line = _source_line(frames[0])  # extract_links itself is the leaf: its line is a C call or the loop
    if "document_fromstring" in line:
        return "link extraction: lxml parse"
    if "xpath" in line:
        return "link extraction: XPath //a/@href"
    return "link extraction: URL join and normalise"


def read_raw(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):  # --subprocesses prefixes the process
            frames = frames[1:]
        samples.append((frames, int(count)))
    return samples


def profile_crawl(products: int, rate: int, seed: int, code_rev: str, tmp: Path) -> dict:
    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        print("py-spy not in the venv: pip install py-spy ...", flush=True)
        if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "py-spy"]).returncode != 0:
            raise BenchError("pip install py-spy failed")
    print(f"writing the shop with {products:,} products ({crawl_pages(products):,} pages) ...", flush=True)
    site = write_site(tmp / "site", products, seed)
    code = REPO if code_rev == "worktree" else export_code(code_rev, tmp / "code")
    label = code_label(code_rev)
    CODE_DIR[0] = code
    (tmp / "luigid").mkdir()
    port = free_port()
    cfg = tmp / "luigi.cfg"
    cfg.write_text(luigi_cfg(tmp, port, code / "luigi.cfg"), encoding="utf-8")
    tick = tmp / "data" / "realsite" / "20260101T0000Z"
    raw = tmp / "profile.txt"
    with nginx(tmp / "site" / "www", tmp / "nginx") as server, luigid(cfg, port, tmp / "luigid.log"):
        env = {**bench_env(), "LUIGI_CONFIG_PATH": str(cfg), "REALSITE_PORT": str(urlsplit(server.url).port)}
        argv = [sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
                "--crawl", str(SPEC), "--at", TICK]
        busy = machine_busy_seconds()
        started = time.monotonic()
        with open(tmp / "worker.log", "wb") as log:
            worker = subprocess.Popen(argv, cwd=code, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        clock = StageClock(worker.pid, tick).start()
        spy = subprocess.Popen([str(pyspy), "record", "--pid", str(worker.pid), "--subprocesses", "--nonblocking",
                                "--rate", str(rate), "--format", "raw", "-o", str(raw)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(tmp / "py-spy.log", "wb"))
        _, status, usage = os.wait4(worker.pid, 0)
        wall = time.monotonic() - started
        clock.stop()
        spy.wait(60)
        others = machine_busy_seconds() - busy
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError(f"RunCrawl failed: {(tmp / 'worker.log').read_text(errors='replace')[-2000:]}")
    if not raw.exists():
        raise BenchError(f"py-spy wrote nothing: {(tmp / 'py-spy.log').read_text(errors='replace')[-1000:]}")
    fetch = json.loads((tick / "fetch" / "stats.json").read_text(encoding="utf-8"))
    parse = json.loads((tick / "parse" / "stats.json").read_text(encoding="utf-8"))
    OUT_RAW.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, OUT_RAW)
    cpu = usage.ru_utime + usage.ru_stime
    return {"site": site, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "user_s": round(usage.ru_utime, 2),
            "system_s": round(usage.ru_stime, 2), "voluntary_ctx_switches": usage.ru_nvcsw,
            "involuntary_ctx_switches": usage.ru_nivcsw, "machine_busy_s": round(others, 2),
            "pages": fetch["fetched"], "item_pages": parse["item_pages"], "fetch_elapsed_s": fetch["elapsed_s"],
            "parse_elapsed_s": parse["elapsed_s"], "rate": rate, "raw": str(raw),
            "stage_cpu_s": {k: round(v, 2) for k, v in clock.stage_cpu().items()}, "code": label}


def breakdown(samples: list[tuple[list[str], int]], rate: int, pages: int,
              stage_cpu: dict[str, float] | None) -> dict[str, dict[str, float]]:
    """stage -> activity -> ms of CPU per fetched page.

    With ``stage_cpu`` (the stage clock's real CPU seconds), each stage's samples
    only give the shares, scaled to that stage's real CPU; otherwise samples /
    rate are taken as CPU seconds. Waiting samples are listed apart, unscaled.
    """
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for frames, n in samples:
        stage, activity = classify(frames)
        counts[stage][activity] += n
    table = {}
    for stage, c in counts.items():
        total = sum(c.values())
        seconds = (stage_cpu or {}).get(stage, total / rate)
        table[stage] = {a: 1000 * seconds * n / total / pages for a, n in c.most_common()}
    return table


def print_table(result: dict, table: dict[str, dict[str, float]], counts: Counter[str]) -> None:
    pages = result["pages"]
    print(f"\n{pages:,} pages fetched, {result['item_pages']:,} item pages parsed; wall {result['wall_s']} s "
          f"(fetch {result['fetch_elapsed_s']} s, parse {result['parse_elapsed_s']} s); our code: {result.get('code')}")
    print(f"worker CPU (rusage, with its reaped children) {result['cpu_s']} s = {1000 * result['cpu_s'] / pages:.2f} ms/page "
          f"(user {result['user_s']}, system {result['system_s']}); stage clock: {result.get('stage_cpu_s')}; "
          f"context switches {result['voluntary_ctx_switches'] / pages:.1f} voluntary + "
          f"{result['involuntary_ctx_switches'] / pages:.1f} involuntary per page")
    total = sum(counts.values())
    print(f"py-spy samples: {total:,} ({total / result['rate']:.0f} s at {result['rate']}/s): "
          + ", ".join(f"{k} {v / total:.0%}" for k, v in counts.most_common()))
    print(f"the whole machine was busy {result['machine_busy_s']} CPU s during the run (py-spy, nginx, luigid and others included)")
    for stage in ("fetch", "page process", "parse", "store", "other"):
        rows = table.get(stage)
        if not rows:
            continue
        stage_total = sum(rows.values())
        scaled = "real CPU of the stage, split by py-spy shares" if stage in result.get("stage_cpu_s", {}) else "py-spy samples"
        print(f"\n{stage} stage: {stage_total:.2f} ms CPU per page ({scaled})")
        print(f"  {'activity':<60} {'ms/page':>8} {'share':>6}")
        for activity, ms in rows.items():
            print(f"  {activity:<60} {ms:>8.3f} {ms / stage_total:>6.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--raw", type=Path, help="classify an existing raw profile instead (needs --pages)")
    parser.add_argument("--pages", type=int, help="pages of the crawl behind --raw")
    parser.add_argument("--code", default="HEAD",
                        help="git revision whose pipelines/ and luigi.cfg run (default HEAD); 'worktree': the work tree")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    if args.raw:
        if not args.pages:
            parser.error("--raw needs --pages")
        result = {"pages": args.pages, "item_pages": 0, "wall_s": 0, "fetch_elapsed_s": 0, "parse_elapsed_s": 0,
                  "cpu_s": 0, "user_s": 0, "system_s": 0, "voluntary_ctx_switches": 0,
                  "involuntary_ctx_switches": 0, "machine_busy_s": 0, "rate": args.rate}
        raw = args.raw
    else:
        tmp = Path(tempfile.mkdtemp(prefix="realsite-profile-"))
        try:
            result = profile_crawl(args.products, args.rate, args.seed, args.code, tmp)
        except BenchError as exc:
            print(f"\nPROFILE BROKE: {exc}\n(temp dir kept: {tmp})", file=sys.stderr)
            return 1
        raw = OUT_RAW
    samples = read_raw(raw)
    counts: Counter[str] = Counter()
    for frames, n in samples:
        counts[classify(frames)[0]] += n
    table = breakdown([s for s in samples if classify(s[0])[0] != "waiting"], result["rate"], result["pages"],
                      result.get("stage_cpu_s"))
    print_table(result, table, counts)
    OUT_JSON.parent.mkdir(parents=True, exist_ok=True)
    OUT_JSON.write_text(json.dumps({"machine": machine_info(), **result,
                                    "ms_per_page": {s: {a: round(v, 4) for a, v in rows.items()} for s, rows in table.items()}},
                                   indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {OUT_JSON.relative_to(REPO)}, raw stacks to {OUT_RAW.relative_to(REPO)}")
    if not args.raw and not args.keep:  # only now: classifying reads source lines from the exported code
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
