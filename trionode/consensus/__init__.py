"""trionode.consensus."""
