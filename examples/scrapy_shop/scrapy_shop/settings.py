"""Settings of the example project: polite defaults for the bundled demo site.

ScrapySpider adds its own (the stats extension, the items feed) through the
crawlops_scrapy add-on, beside these; its `settings` parameter overrides them.
"""

BOT_NAME = "scrapy_shop"
SPIDER_MODULES = ["scrapy_shop.spiders"]
NEWSPIDER_MODULE = "scrapy_shop.spiders"

ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
DOWNLOAD_TIMEOUT = 10
RETRY_TIMES = 2
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
