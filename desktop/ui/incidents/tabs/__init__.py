"""The incident editor's tabs, one module each: a tab builds, loads, checks and keeps (for a
draft) its own part of the incident. None imports another; the editor wires them together."""
