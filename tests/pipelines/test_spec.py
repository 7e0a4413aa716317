"""Crawl specs: good ones load, bad ones fail with one sentence naming file and key."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipelines.exceptions import SpecError
from pipelines.spec import load_spec
from tests.conftest import PYTHON, ROOT

GOOD = """
name = "shop"
start_urls = ["http://shop.example/"]
allowed_domains = ["shop.example"]
follow = ['/page-\\d+']
item_pages = '/product-\\d+'
key = "sku"

[fetch]
concurrency = 4
headers = { Accept-Language = "en" }

[fields.title]
css = "h1::text"
required = true

[fields.sku]
xpath = "//td[@class='sku']/text()"

[fields.price]
css = ".price::text"
type = "price"
default = 0
"""


def write(tmp_path: Path, text: str, name: str = "shop") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> SpecError:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_spec(str(path))
    message = str(info.value)
    assert message.startswith(str(path)), message  # names the file
    assert "\n" not in message  # one sentence
    return info.value


def test_it_loads_a_good_spec_by_path_and_by_name(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    by_name = load_spec("shop", [tmp_path])
    by_path = load_spec(str(tmp_path / "shop.toml"))
    assert by_name == by_path
    assert by_name.key == "sku"
    assert by_name.fetch.concurrency == 4
    assert by_name.fetch.headers == {"Accept-Language": "en"}
    assert by_name.is_item_page("http://shop.example/product-9")
    assert not by_name.is_item_page("http://shop.example/page-2")
    assert [f.name for f in by_name.fields] == ["title", "sku", "price"]


def test_the_bundled_demo_spec_loads() -> None:
    spec = load_spec("demo", [ROOT / "pipelines" / "crawls"])
    assert spec.name == "demo"
    assert spec.key == "upc"


def test_it_rejects_an_unknown_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("key = ", "max_page = 5\nkey = "))
    assert error.key == "max_page"
    assert "unknown key; did you mean 'max_pages'?" in str(error)


def test_it_rejects_an_unknown_key_inside_a_field(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("required = true", "requird = true"))
    assert error.key == "fields.title.requird"
    assert "did you mean 'required'" in str(error)


def test_it_rejects_a_wrong_type(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("concurrency = 4", 'concurrency = "four"'))
    assert error.key == "fetch.concurrency"
    assert "expected a whole number >= 1, got the string 'four'" in str(error)


def test_it_rejects_a_boolean_where_a_number_is_meant(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("concurrency = 4", "concurrency = true"))
    assert "got a boolean" in str(error)


def test_it_rejects_a_negative_number(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("concurrency = 4", "concurrency = 4\ndelay = -1"))
    assert error.key == "fetch.delay"
    assert "expected a number >= 0, got -1" in str(error)


def test_it_rejects_a_bad_regex(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("'/page-", "'/page-("))
    assert error.key == "follow"
    assert "does not compile" in str(error)


def test_it_rejects_a_bad_css_selector(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('css = "h1::text"', 'css = "h1[[::text"'))
    assert error.key == "fields.title.css"
    assert "expected a CSS selector" in str(error)


def test_it_rejects_a_bad_xpath(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("//td[@class='sku']/text()", "//td[@class='sku'/text("))
    assert error.key == "fields.sku.xpath"
    assert "expected an XPath expression" in str(error)


def test_it_rejects_empty_start_urls(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('start_urls = ["http://shop.example/"]', "start_urls = []"))
    assert error.key == "start_urls"
    assert "expected at least one URL" in str(error)


def test_it_rejects_missing_start_urls(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('start_urls = ["http://shop.example/"]', ""))
    assert "start_urls: is missing; expected a list of strings" in str(error)


def test_it_rejects_a_start_url_outside_allowed_domains(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('["http://shop.example/"]', '["http://other.example/"]'))
    assert error.key == "start_urls"
    assert "'http://other.example/' is outside allowed_domains (shop.example)" in str(error)


def test_it_rejects_a_relative_start_url(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('["http://shop.example/"]', '["/index.html"]'))
    assert "expected absolute http(s) URLs" in str(error)


def test_it_rejects_an_unknown_field_type(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('type = "price"', 'type = "money"'))
    assert error.key == "fields.price.type"
    assert "expected one of str, int, float, price, datetime, got 'money'" in str(error)


def test_it_rejects_a_default_of_the_wrong_type(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("default = 0", 'default = "free"'))
    assert error.key == "fields.price.default"


def test_it_rejects_a_field_with_both_css_and_xpath(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('css = "h1::text"', 'css = "h1::text"\nxpath = "//h1"'))
    assert "expected exactly one of css or xpath" in str(error)


def test_it_rejects_a_key_that_is_not_a_field(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('key = "sku"', 'key = "ean"'))
    assert error.key == "key"
    assert "expected 'url' or one of the fields" in str(error)


def test_it_rejects_an_unknown_render_mode(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('key = "sku"', 'key = "sku"\nrender = "chrome"'))
    assert "expected one of http, browser, got 'chrome'" in str(error)


def test_it_rejects_a_missing_hook_module(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('key = "sku"', 'key = "sku"\nparse_hook = "no_such_module:parse"'))
    assert error.key == "parse_hook"
    assert "module 'no_such_module' cannot be found" in str(error)


def test_it_rejects_a_hook_function_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "shop_hooks.py").write_text("def parse(page):\n    return {}\n")
    error = error_of(tmp_path, GOOD.replace('key = "sku"', 'key = "sku"\nparse_hook = "shop_hooks:extract"'))
    assert "module 'shop_hooks' has no function 'extract'" in str(error)


def test_it_loads_a_hook_that_lives_next_to_the_spec(tmp_path: Path) -> None:
    (tmp_path / "shop_hooks2.py").write_text("def parse(page):\n    return {'title': 'x'}\n")
    spec = load_spec(str(write(tmp_path, GOOD.replace('key = "sku"', 'key = "sku"\nparse_hook = "shop_hooks2:parse"'))))
    assert spec.parse_hook is not None and spec.parse_hook(None) == {"title": "x"}


def test_it_rejects_broken_toml_with_the_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('name = "shop"', 'name = "shop'))
    assert "is not valid TOML" in str(error) and "line 2" in str(error)


def test_it_names_the_known_crawls_when_a_name_is_not_found(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    with pytest.raises(SpecError) as info:
        load_spec("shpo", [tmp_path])
    assert "no crawl spec named 'shpo'" in str(info.value)
    assert "known crawls: shop" in str(info.value)


def test_a_bad_spec_fails_the_luigi_run_with_its_sentence(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("concurrency = 4", "concurrency = 0"))
    result = subprocess.run(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", str(path),
         "--at", "2026-01-01T0000", "--local-scheduler"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 35  # [retcode] scheduling_error: nothing ran
    assert f"{path}: fetch.concurrency: expected a whole number >= 1, got 0" in result.stderr


def test_it_takes_values_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_HOST", "shop.example")
    text = GOOD.replace('"http://shop.example/"', '"http://${SHOP_HOST}:${SHOP_PORT:-8080}/"')
    spec = load_spec(str(write(tmp_path, text)))
    assert spec.start_urls == ("http://shop.example:8080/",)


def test_it_names_a_missing_environment_variable(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace('Accept-Language = "en"', 'Authorization = "Bearer ${NO_SUCH_TOKEN_X}"'))
    assert error.key == "fetch.headers.Authorization"
    assert "uses ${NO_SUCH_TOKEN_X}, which is not set in the environment" in str(error)


def test_overrides_replace_keys_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    spec = load_spec(str(path), overrides={"max_pages": 5, "fetch.concurrency": 2})
    assert spec.max_pages == 5 and spec.fetch.concurrency == 2
    with pytest.raises(SpecError, match="fetch.concurrency: expected a whole number >= 1, got 0"):
        load_spec(str(path), overrides={"fetch.concurrency": 0})


def test_url_rules_and_trap_limits_have_defaults(tmp_path: Path) -> None:
    spec = load_spec(str(write(tmp_path, GOOD)))
    assert spec.strip_query_params == ("utm_*", "gclid", "fbclid")
    assert spec.canonical_dedupe is True
    assert spec.budgets == () and spec.max_depth is None


def test_it_loads_url_rules_and_budgets(tmp_path: Path) -> None:
    text = GOOD.replace('key = "sku"', 'key = "sku"\nmax_depth = 4\nstrip_query_params = ["ref", "*sessionid"]\n'
                                       "canonical_dedupe = false")
    spec = load_spec(str(write(tmp_path, text + "\n[budgets]\n'/calendar/\\d{4}-\\d\\d' = 50\n'[?&]page=' = 0\n")))
    assert spec.max_depth == 4 and spec.canonical_dedupe is False
    assert spec.strip_query_params == ("ref", "*sessionid")
    assert [(p.pattern, n) for p, n in spec.budgets] == [(r"/calendar/\d{4}-\d\d", 50), ("[?&]page=", 0)]
    assert load_spec(str(write(tmp_path, GOOD.replace('key = "sku"', 'key = "sku"\nstrip_query_params = []')))
                     ).strip_query_params == ()


@pytest.mark.parametrize(("line", "key", "problem"), [
    ('strip_query_params = ["utm_source=x"]', "strip_query_params",
     "expected query parameter names or glob patterns such as 'utm_*', got 'utm_source=x'"),
    ('strip_query_params = ["utm_*", ""]', "strip_query_params",
     "expected a list of non-empty strings, item 2 is the string ''"),
    ("strip_query_params = 5", "strip_query_params", "expected a list of strings, got int 5"),
    ('canonical_dedupe = "no"', "canonical_dedupe", "expected true or false, got the string 'no'"),
    ("canonical_dedup = false", "canonical_dedup", "unknown key; did you mean 'canonical_dedupe'?"),
    ("budget = 5", "budget", "unknown key; did you mean 'budgets'?"),
    ("budgets = 5", "budgets", "expected a table, got int 5"),
    ("max_depth = -1", "max_depth", "expected a whole number >= 0, got -1"),
])
def test_it_rejects_bad_url_rules(tmp_path: Path, line: str, key: str, problem: str) -> None:
    error = error_of(tmp_path, GOOD.replace('key = "sku"', f'key = "sku"\n{line}'))
    assert error.key == key
    assert str(error).endswith(f"{key}: {problem}")


@pytest.mark.parametrize(("entry", "key", "problem"), [
    ("'/calendar/(' = 5", "budgets./calendar/(",
     "expected a regular expression as the key, '/calendar/(' does not compile (missing ), unterminated subpattern"),
    ("'/calendar/' = -1", "budgets./calendar/", "expected a whole number >= 0 (pages), got int -1"),
    ("'/calendar/' = true", "budgets./calendar/", "expected a whole number >= 0 (pages), got bool True"),
    ("'/calendar/' = 'ten'", "budgets./calendar/", "expected a whole number >= 0 (pages), got the string 'ten'"),
])
def test_it_rejects_a_bad_budget(tmp_path: Path, entry: str, key: str, problem: str) -> None:
    error = error_of(tmp_path, f"{GOOD}\n[budgets]\n{entry}\n")
    assert error.key == key
    assert f"{key}: {problem}" in str(error)
