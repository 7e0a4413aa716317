"""deploy/prometheus and deploy/grafana checked offline: promtool on the config,
the rules and their unit tests, and a lint of the dashboards' JSON.

promtool comes with Debian's prometheus package (CI installs it); without it
the promtool tests skip with the reason, which CI turns into a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROM_DIR = ROOT / "deploy/prometheus"
ALERTS = PROM_DIR / "alerts.yml"
ALERT_TESTS = PROM_DIR / "tests/alerts_test.yml"
GRAFANA_DIR = ROOT / "deploy/grafana"
DASHBOARDS = {"crawl-overview": GRAFANA_DIR / "dashboards/crawl-overview.json",
              "crawl-detail": GRAFANA_DIR / "dashboards/crawl-detail.json"}
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__interval_ms", "__range_s", "__range_ms"}
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(),
                                    reason=f"promtool not found ({PROMTOOL}): apt-get install prometheus")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def alert_names() -> list[str]:
    return re.findall(r"(?m)^\s*- alert: (\S+)\s*$", ALERTS.read_text())


def rule_test_cases() -> list[dict]:
    """The alert_rule_test cases of alerts_test.yml, read line by line (no YAML
    library in the venv): name of the test, alertname, firing or quiet, and
    the keys a firing case pins. promtool itself checks what they pin."""
    cases: list[dict] = []
    name = ""
    for line in ALERT_TESTS.read_text().splitlines():
        if m := re.match(r"^  - name: (.+)$", line):
            name = m.group(1)
        elif m := re.match(r"^\s+alertname: (\S+)\s*$", line):
            cases.append({"test": name, "alert": m.group(1), "firing": None, "keys": set(), "severity": None})
        elif m := re.match(r"^\s+exp_alerts:\s*(\S*)\s*$", line):
            cases[-1]["firing"] = m.group(1) != "[]"
        elif m := re.match(r"^\s+- exp_labels: \{(.*)\}\s*$", line):
            severity = re.search(r"severity: (\w+)", m.group(1))
            cases[-1]["severity"] = severity.group(1) if severity else None
        elif m := re.match(r"^\s+(summary|description|dashboard): ", line):
            cases[-1]["keys"].add(m.group(1))
    return cases


# -- promtool ---------------------------------------------------------------------

@pytest.mark.prometheus
@needs_promtool
def test_promtool_accepts_the_config_with_its_rule_file(tmp_path: Path) -> None:
    # promtool checks that the token file exists: the real one is a secret
    # next to prometheus.yml, so check a copy with a stand-in.
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROM_DIR / name, tmp_path / name)
    (tmp_path / "crawlops_metrics_token").write_text("not-a-real-token\n")
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert_ok(result)
    assert "1 rule files found" in result.stdout + result.stderr


@pytest.mark.prometheus
@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", "alerts.yml", cwd=PROM_DIR)
    assert_ok(result)
    assert f"{len(alert_names())} rules found" in result.stdout


@pytest.mark.prometheus
@needs_promtool
def test_the_rule_unit_tests_pass() -> None:
    assert_ok(promtool("test", "rules", "tests/alerts_test.yml", cwd=PROM_DIR))


# -- what the rules and their tests must cover --------------------------------------

def test_the_alerts_the_issue_asks_for_exist() -> None:
    names = alert_names()
    assert len(names) == len(set(names)), names
    assert {"CrawlDown", "CrawlStale", "CrawlNeverSucceeded", "CrawlTaskFailures", "CrawlHighFailureRatio",
            "TriggerDaemonDead", "LuigidDown", "ScheduledRunsBacklogGrowing", "ScheduleDelayHigh",
            "CrawlHigh5xxRatio"} <= set(names)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases = rule_test_cases()
    assert all(c["firing"] is not None for c in cases), [c["test"] for c in cases if c["firing"] is None]
    missing = [(name, kind) for name in alert_names() for kind, firing in (("firing", True), ("quiet", False))
               if not any(c["alert"] == name and c["firing"] is firing for c in cases)]
    assert not missing, f"alerts without a test case: {missing}"
    unknown = {c["alert"] for c in cases} - set(alert_names())
    assert not unknown, f"test cases for alerts that do not exist: {unknown}"


def test_every_firing_case_pins_severity_summary_description_and_dashboard() -> None:
    # promtool compares labels and annotations exactly, so these are the rules' own.
    for case in rule_test_cases():
        if case["firing"]:
            assert case["severity"] in ("critical", "warning"), case
            assert case["keys"] == {"summary", "description", "dashboard"}, case


def test_every_dashboard_link_of_the_alerts_names_a_dashboard_that_exists() -> None:
    links = re.findall(r'dashboard: "([^"]+)"', ALERTS.read_text())
    assert len(links) == len(alert_names())
    for link in links:
        # A link may choose its dashboard by label: /d/{{ if $labels.crawl }}crawl-detail...{{ else }}crawl-overview
        path = re.match(r"https?://[^/]+/d/(.+)", link)
        uids = re.findall(r"(?:^|\}\})(crawl-[a-z]+)", path.group(1)) if path else []
        assert uids and set(uids) <= set(DASHBOARDS), link


# -- dashboards ---------------------------------------------------------------------

def load(uid: str) -> dict:
    return json.loads(DASHBOARDS[uid].read_text())


def panels(board: dict) -> list[dict]:
    out = []
    for panel in board["panels"]:
        out.extend(panel.get("panels", []))  # collapsed rows hold their panels
        if panel["type"] != "row":
            out.append(panel)
    return out


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_a_dashboard_is_json_with_its_uid_and_no_inputs(uid: str) -> None:
    text = DASHBOARDS[uid].read_text()
    board = json.loads(text)
    assert board["uid"] == uid and board["title"]
    assert "__inputs" not in board and "__requires" not in board
    assert "${DS_" not in text  # what "export for sharing externally" leaves behind


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_a_dashboard_has_the_datasource_crawl_and_family_variables(uid: str) -> None:
    variables = {v["name"]: v for v in load(uid)["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("crawl", "family"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"] == DATASOURCE_REF
        assert variables[name]["query"].startswith("label_values(") and f", {name})" in variables[name]["query"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_panel_and_target_uses_the_datasource_variable(uid: str) -> None:
    board = load(uid)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        assert panel["type"] in ("timeseries", "stat", "table"), panel["title"]
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
            assert target["expr"].strip(), panel["title"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_variable_an_expression_uses_exists(uid: str) -> None:
    board = load(uid)
    defined = {v["name"] for v in board["templating"]["list"]} | GRAFANA_BUILTINS
    for panel in panels(board):
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined, (panel["title"], used - defined)


def test_the_overview_has_the_panels_the_issue_asks_for() -> None:
    titles = [p["title"].lower() for p in panels(load("crawl-overview"))]
    for wanted in ("runs by status", "duration p50 / p95", "age of the last success", "pages fetched per second",
                   "items per run", "error ratio", "schedules", "trigger delay"):
        assert any(wanted in title for title in titles), wanted


def test_the_detail_dashboard_is_about_one_crawl() -> None:
    board = load("crawl-detail")
    crawl = next(v for v in board["templating"]["list"] if v["name"] == "crawl")
    assert crawl["multi"] is False and crawl["includeAll"] is False
    exprs = [t["expr"] for p in panels(board) for t in p["targets"]]
    assert sum('crawl="$crawl"' in e for e in exprs) >= 10


def test_provisioning_points_at_the_dashboards_folder() -> None:
    provider = (GRAFANA_DIR / "provisioning/dashboards/crawlops.yml").read_text()
    assert re.search(r"(?m)^\s+type: file$", provider) and "path: ${CRAWLOPS_DASHBOARDS}" in provider
    datasource = (GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text()
    assert re.search(r"(?m)^\s+type: prometheus$", datasource)
