"""trionode.sync."""
