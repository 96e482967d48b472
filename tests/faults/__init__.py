"""Fault runs: random scenarios with kills and link cuts, checked for convergence and loss."""
