"""The monitor's pages: thin views (query, context, render). None yet."""
