"""trionode.peers."""
