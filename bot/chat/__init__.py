"""``bot chat``: a Textual chat that shows evidence sentences in their paragraph and article."""
