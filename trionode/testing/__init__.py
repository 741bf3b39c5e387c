"""Test helpers that build real chains (real plots, real VDFs, real signatures)."""
