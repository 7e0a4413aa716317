"""Bring your own crawler: a Scrapy spider or a plain script as a Luigi task per tick.

    python -m luigi --module pipelines.external ScrapySpider --project DIR --spider NAME --at 2026-11-21T0730
    python -m luigi --module pipelines.external PythonScript --path script.py --at 2026-11-21T0730

A schedule names them `pipelines.external.scrapy.ScrapySpider` and
`pipelines.external.script.PythonScript`. docs/external-crawlers.md says it all.
"""

from pipelines.external.scrapy import ScrapySpider
from pipelines.external.script import PythonScript

__all__ = ["PythonScript", "ScrapySpider"]
