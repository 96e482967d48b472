"""Qt windows, dialogs, models and background jobs: the only place PySide6 is imported."""
