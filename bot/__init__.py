"""The application: answering questions from an index, the CLI, the chat TUI, regression checks."""
