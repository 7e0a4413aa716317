"""The demo site's second shop under /outlet/: what it stocks, its ground truth, and the main shop untouched."""

from __future__ import annotations

from lxml import html as lxml_html

from pipelines.demo import outlet
from pipelines.demo.site import build_site, product, site_pages

PRODUCTS = 30


def test_it_stocks_the_catalogue_but_every_seventh_book_and_a_few_of_its_own() -> None:
    pids = outlet.outlet_pids(PRODUCTS)
    assert pids == [p for p in range(1, 34) if p % 7]
    assert outlet.extra_products(PRODUCTS) == 3 and outlet.extra_products(5) == 1
    site = build_site(PRODUCTS)
    for pid in range(1, 40):
        status = site.get(outlet.book_path(pid)).status
        assert status == (200 if pid in pids else 404), pid
    assert site.get("/outlet/book/zzzz.html").status == 404
    assert site.get("/outlet/shelf-4.html").status == 404  # 29 books: three shelves of 12


def test_a_book_page_shows_its_ground_truth_in_the_outlets_own_markup() -> None:
    site = build_site(PRODUCTS)
    for pid in (1, 5, 31):
        truth = outlet.outlet_product(pid)
        doc = lxml_html.fromstring(site.get(outlet.book_path(pid)).body)
        assert doc.cssselect("h2.name")[0].text_content() == truth["title"] == product(pid)["title"]
        assert doc.cssselect(".offer .amount")[0].text_content() == f"£{truth['price']:.2f}"
        assert doc.cssselect("dd.condition")[0].text_content() == truth["condition"]
        assert doc.cssselect("dd.upc")[0].text_content() == truth["upc"] == product(pid)["upc"]
        assert not doc.cssselect("h1")  # not the catalogue's markup: demo.toml's fields find nothing


def test_prices_differ_from_the_catalogue_by_fixed_percentages() -> None:
    ratios = {round(outlet.outlet_product(p)["price"] / product(p)["price"], 2) for p in range(1, 200)}
    assert 1.0 in ratios and min(ratios) < 0.8 and max(ratios) > 1.2
    assert outlet.outlet_product(12) == outlet.outlet_product(12)
    assert all(outlet.pid_of_upc(product(p)["upc"]) == p for p in range(1, 200))


def test_the_shelves_link_every_book_once() -> None:
    site = build_site(PRODUCTS)
    home = lxml_html.fromstring(site.get("/outlet/").body)
    shelves = home.xpath("//ul[@class='shelves']//a/@href")
    assert shelves == ["shelf-1.html", "shelf-2.html", "shelf-3.html"]
    linked = []
    for shelf in shelves:
        linked += lxml_html.fromstring(site.get(f"/outlet/{shelf}").body).xpath("//a[@class='book']/@href")
    assert linked == [outlet.book_path(p) for p in outlet.outlet_pids(PRODUCTS)]


def test_the_main_shop_neither_links_to_the_outlet_nor_changes_its_page_count() -> None:
    site = build_site(PRODUCTS)
    assert not any(path.startswith("/outlet/") for path in site.paths())
    assert len(list(site.ok_paths())) == site_pages(PRODUCTS)
    assert b"/outlet/" not in site.get("/").body


def test_a_large_outlet_is_built_lazily_and_answers_its_last_shelf_and_book() -> None:
    site = build_site(100_000)
    size = outlet.outlet_size(100_000)
    assert size == len(outlet.outlet_pids(100_000)) == 110_000 - 110_000 // 7
    last = lxml_html.fromstring(site.get(f"/outlet/shelf-{-(-size // outlet.SHELF_SIZE)}.html").body)
    assert last.xpath("//a[@class='book']/@href")[-1] == outlet.book_path(outlet.outlet_pids(100_000)[-1])
    assert site.get(outlet.book_path(109_998)).status == 404  # a multiple of 7
    assert site.get(outlet.book_path(110_001)).status == 404  # past the outlet's own books
    assert site.get(outlet.book_path(110_000)).status == 200
