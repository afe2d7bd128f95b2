"""Stage 4, store → ranked evidence: candidates, their score parts, and the ranking.

``searcher`` gathers candidates (dense + BM25) and returns ranked hits; ``term_match`` reads the
question's terms from the BM25 postings; ``features`` computes each candidate's score parts;
``answer_types`` says what a question asks for and what a sentence holds; ``ranking`` combines
the parts into one score.
"""
