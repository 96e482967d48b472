"""Qt windows, dialogs, models and background jobs: the only place PySide6 is imported."""

#: The product's name: a proper name, written the same in every language.
APP_NAME = "Minga"
