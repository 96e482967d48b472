"""The Sync section: joining a network, when and how sync runs, conflicts, spaces and members.

The engine itself lives in ``sync.client``; this package only schedules it and shows it.
"""
