"""Field extraction and typing: pure functions, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.parse import Extractor, FieldError, PageError, convert, item_key
from pipelines.spec import parse_spec


def spec_with(fields: str, extra: str = ""):
    text = f"""
start_urls = ["http://s.example/"]
allowed_domains = ["s.example"]
{extra}
{fields}
"""
    import tomllib

    return parse_spec(tomllib.loads(text), Path("t.toml"))


PAGE = """<html><head><meta charset="utf-8"><title>t</title></head><body>
<h1>  Caf\u00e9 &amp; Cr\u00e8me <b>Deluxe</b> </h1>
<p class="price">\u00a31,234.50</p>
<p class="stock">In stock (22 available)</p>
<ul class="tags"><li>a</li><li> b </li><li></li></ul>
<time>2026-03-04T05:06:07+02:00</time>
<script>alert("<h1>not a title</h1>")</script>
</body></html>""".encode()


@pytest.mark.parametrize(("text", "ftype", "value"), [
    ("\u00a351.77", "price", 51.77),
    ("$1,234.50", "price", 1234.5),
    ("1.234,50 \u20ac", "price", 1234.5),
    ("12,5", "float", 12.5),
    ("1,234", "int", 1234),
    ("In stock (22 available)", "int", 22),
    ("1.234.567", "int", 1234567),
    ("-3.5", "float", -3.5),
    ("  two\n words ", "str", "two words"),
    ("2026-03-04 05:06", "datetime", "2026-03-04T05:06:00+00:00"),
    ("2026-03-04T05:06:07+02:00", "datetime", "2026-03-04T03:06:07+00:00"),
])
def test_it_converts_text_to_field_types(text: str, ftype: str, value: object) -> None:
    assert convert(text, ftype) == value


@pytest.mark.parametrize(("text", "ftype"), [("free", "price"), ("n/a", "int"), ("soon", "datetime")])
def test_it_refuses_text_that_is_not_of_the_type(text: str, ftype: str) -> None:
    with pytest.raises(FieldError):
        convert(text, ftype)


def test_it_extracts_css_xpath_many_regex_and_types() -> None:
    spec = spec_with("""
[fields.title]
css = "h1"
[fields.price]
css = "p.price::text"
type = "price"
[fields.stock]
xpath = "//p[@class='stock']/text()"
re = '\\((\\d+) available\\)'
type = "int"
[fields.tags]
css = "ul.tags li::text"
many = true
[fields.when]
css = "time::text"
type = "datetime"
""")
    item = Extractor(spec).extract("http://s.example/p", PAGE)
    assert item == {
        "title": "Caf\u00e9 & Cr\u00e8me Deluxe",
        "price": 1234.5,
        "stock": 22,
        "tags": ["a", "b"],
        "when": "2026-03-04T03:06:07+00:00",
    }


def test_fields_sharing_a_selector_each_get_their_value() -> None:
    spec = spec_with("""
[fields.availability]
css = "p.stock::text"
re = '(In stock|Out of stock)'
[fields.stock]
css = "p.stock::text"
re = '\\((\\d+) available\\)'
type = "int"
[fields.raw]
css = "p.stock::text"
""")
    assert Extractor(spec).extract("http://s.example/p", PAGE) == {
        "availability": "In stock", "stock": 22, "raw": "In stock (22 available)"}


def test_a_missing_required_field_is_a_page_error() -> None:
    spec = spec_with('[fields.isbn]\ncss = "td.isbn::text"\nrequired = true')
    with pytest.raises(PageError, match="required field 'isbn' not found"):
        Extractor(spec).extract("http://s.example/p", PAGE)


def test_a_missing_optional_field_takes_its_default() -> None:
    spec = spec_with('[fields.isbn]\ncss = "td.isbn::text"\ndefault = "none"\n[fields.list]\ncss = "i::text"\nmany = true')
    assert Extractor(spec).extract("http://s.example/p", PAGE) == {"isbn": "none", "list": []}


def test_a_value_of_the_wrong_type_is_a_page_error() -> None:
    spec = spec_with('[fields.price]\ncss = "h1::text"\ntype = "price"')
    with pytest.raises(PageError, match="field 'price' is not a price"):
        Extractor(spec).extract("http://s.example/p", PAGE)


def test_it_decodes_the_page_with_the_given_charset() -> None:
    spec = spec_with('[fields.title]\ncss = "h1::text"')
    body = "<html><body><h1>na\u00efve</h1></body></html>".encode("latin-1")
    assert Extractor(spec).extract("http://s.example/p", body, "iso-8859-1") == {"title": "na\u00efve"}


def test_a_parse_hook_replaces_the_fields(tmp_path: Path) -> None:
    spec = spec_with('[fields.title]\ncss = "h1::text"')
    object.__setattr__(spec, "parse_hook", lambda page: {"title": page.selector.css("title::text").get(),
                                                          "url": page.url})
    assert Extractor(spec).extract("http://s.example/p", PAGE) == {"title": "t", "url": "http://s.example/p"}


def test_a_crashing_parse_hook_is_a_page_error() -> None:
    spec = spec_with('[fields.title]\ncss = "h1::text"')
    object.__setattr__(spec, "parse_hook", lambda page: 1 / 0)
    object.__setattr__(spec, "parse_hook_name", "m:f")
    with pytest.raises(PageError, match="parse_hook m:f raised ZeroDivisionError"):
        Extractor(spec).extract("http://s.example/p", PAGE)


def test_the_item_key_is_the_url_or_a_field() -> None:
    by_url = spec_with('[fields.title]\ncss = "h1::text"')
    assert item_key(by_url, "http://s.example/p", {"title": "x"}) == "http://s.example/p"
    by_field = spec_with('[fields.sku]\ncss = "h1::text"', 'key = "sku"')
    assert item_key(by_field, "http://s.example/p", {"sku": "A1"}) == "A1"
    with pytest.raises(PageError, match="key field 'sku' is empty"):
        item_key(by_field, "http://s.example/p", {"sku": ""})


def test_garbage_bytes_do_not_crash_the_extractor() -> None:
    spec = spec_with('[fields.title]\ncss = "h1::text"')
    assert Extractor(spec).extract("http://s.example/p", b"\xff\xfe\x00<h1>\x80\x81</h1>") is not None
