"""The services every namespace host talks to, bound to the cluster's bridge address.

- `ThrowawayPostgres`: the machine's PostgreSQL listens on 127.0.0.1 only,
  which no namespace can reach (their 127.0.0.1 is their own). So the test
  starts its own cluster: `initdb` into a temp folder (as the `postgres` user:
  PostgreSQL refuses to run as root), listening on the bridge address and a
  free port, trust auth for the bridge's /24 only, stopped and deleted at
  teardown. Real PostgreSQL, same major version as the system one.
- `make_cluster_luigid()`: a real luigid (`--address` the bridge address) whose
  luigi.cfg (tests.conftest.write_luigi_config, scheduler_host rewritten)
  the workers in the namespaces use; `terminate()` / `kill()` and `start()`
  restart it on the same address and port.
- `start_demo_site_on()`: pipelines.demo.server `--host` the bridge address.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.cluster.netns import die_with_parent, stop_postgres
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, free_port, stop, wait_http, write_luigi_config


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<major>/bin that has initdb and pg_ctl."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def postgres_missing() -> str | None:
    if postgres_bin() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)"
    if shutil.which("runuser") is None:
        return "`runuser` (util-linux) is missing: the throwaway PostgreSQL runs as the postgres user"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` user to run a throwaway PostgreSQL as"
    return None


@dataclass
class ThrowawayPostgres:
    address: str
    subnet: str
    port: int = 0
    root: Path | None = None

    def start(self) -> None:
        bindir, user = postgres_bin(), pwd.getpwnam("postgres")
        # Not under pytest's tmp_path: that is 0700 root, and the server runs as postgres.
        # The pid in the name lets a later run's sweep (netns.sweep_leftovers) stop it if this one crashes.
        self.root = Path(tempfile.mkdtemp(prefix=f"crawlt-pg-{os.getpid()}-", dir="/tmp"))
        os.chown(self.root, user.pw_uid, user.pw_gid)
        data = self.root / "data"
        self.port = free_port()
        self._as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"])
        with open(data / "pg_hba.conf", "w") as hba:  # the bridge's subnet only, trust; local socket for pg_ctl
            hba.write(f"local all all trust\nhost all all {self.subnet} trust\n")
        opts = (f"-c listen_addresses={self.address} -p {self.port} -c unix_socket_directories={self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "pg.log"),
                           "-w", "-t", "30", "start"])

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://postgres@{self.address}:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(host=self.address, port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def stop(self) -> None:
        if self.root is None:
            return
        stop_postgres(str(self.root))
        self.root = None

    def log(self) -> str:
        path = self.root / "pg.log" if self.root else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def _as_postgres(self, argv: list[str], check: bool = True) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                                cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}\n{self.log()}")


def make_cluster_luigid(home: Path, address: str, history_url: str, items_url: str) -> Luigid:
    """A luigid on `address`, its luigi.cfg pointing workers there; not started."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_luigi_config(home, port, history_url, items_url)
    config.write_text(config.read_text().replace("scheduler_host = 127.0.0.1", f"scheduler_host = {address}"))
    return ClusterLuigid(port, home, config, history_url, items_url, address=address)


@dataclass
class ClusterLuigid(Luigid):
    address: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> None:
        log = open(self.home / "luigid.log", "ab")
        self.proc = subprocess.Popen(
            [PYTHON, "-c", "import luigi.cmdline; luigi.cmdline.luigid()",
             "--address", self.address, "--port", str(self.port)],
            cwd=self.home, env=self.env(), stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
        )
        wait_http(f"{self.url}/api/task_list", proc=self.proc)

    def terminate(self, timeout: float = 30.0) -> None:
        """Stop luigid cleanly (SIGTERM: it pickles its state to state_path) and wait for it; start() brings it
        back on the same address and port with the same config, loading that state."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL luigid and reap it: nothing is pickled (start() loads the state of the last clean stop, if any)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def worker_env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker in a namespace: this luigi.cfg, no stack port overrides."""
        env = self.env(**extra)
        for key in ("LUIGID_PORT", "WEBMON_PORT", "DEMO_SITE_PORT", "WEBMON_BASE_URL"):
            env.pop(key, None)
        return env


def start_demo_site_on(address: str, products: int, latency_ms: int = 0) -> DemoSite:
    proc = subprocess.Popen(
        [PYTHON, "-m", "pipelines.demo.server", "--host", address, "--port", "0", "--products", str(products),
         "--latency-ms", str(latency_ms), "--quiet"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent,
    )
    line = proc.stdout.readline()  # "demo site serving N products at http://ADDRESS:PORT/"
    if f"http://{address}:" not in line:
        stop(proc)
        raise RuntimeError(f"demo site did not start on {address}: {line!r}")
    url = line.strip().split(" at ")[-1]
    return DemoSite(url, int(url.rstrip("/").rsplit(":", 1)[1]), products, proc)
