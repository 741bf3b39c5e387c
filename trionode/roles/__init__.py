"""trionode.roles."""
