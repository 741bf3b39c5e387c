"""Farm keys: a BIP39 master key and the farmer, pool and plot-local keys derived from it."""
