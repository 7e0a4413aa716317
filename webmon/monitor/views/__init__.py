"""The monitor's pages: thin views (query, context, render), one module per page."""
