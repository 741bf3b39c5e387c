"""trionode.storage."""
