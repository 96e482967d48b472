"""The Alerts section: open solidarity alerts by urgency and the network's collective response."""
