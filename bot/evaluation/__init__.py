"""``bot eval``: measure answer quality on SQuAD-format question sets (ReQA style)."""
