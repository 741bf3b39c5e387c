"""trionode.nursery."""
