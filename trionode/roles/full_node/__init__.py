"""The full node role: validates, stores and spreads blocks; drives farmers and timelords."""
