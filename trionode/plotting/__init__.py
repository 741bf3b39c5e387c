"""Plots: the memo convention, plot creation with chiapos, loading plots and looking them up."""
