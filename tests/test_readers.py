"""Each article format: metadata, body boundaries and offsets that reproduce the text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.errors import UnreadableFile
from index.indexer import split_article
from index.ingest.readers import read_articles

from .conftest import SEED_ARTICLE


def read(path: Path, content: str | bytes) -> list:
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    return read_articles(path, data)


def sentence_texts(article) -> list[str]:
    return split_article(article).sentence_texts()


def test_seed_txt_date_marker_is_metadata_not_a_sentence():
    data = SEED_ARTICLE.read_bytes()
    [article] = read_articles(SEED_ARTICLE, data)
    assert article.date == "2022-05-23"
    assert article.title is None
    sentences = sentence_texts(article)
    assert sentences[0].startswith("Smartphone makers collaborating")
    assert not any("date 2022" in s for s in sentences)
    text = data.decode("utf-8")
    for _, start, end in split_article(article).sentences:
        assert text[start:end] == article.text[start:end]


def test_txt_title_line_then_date(tmp_path: Path):
    [article] = read(tmp_path / "a.txt", "Leica Finds a New Partner\ndate 2022-05-23\n\n"
                     "Leica now works with Xiaomi. The deal is new.\n")
    assert (article.title, article.date) == ("Leica Finds a New Partner", "2022-05-23")
    assert sentence_texts(article) == ["Leica now works with Xiaomi.", "The deal is new."]


def test_txt_with_bom_and_crlf_keeps_exact_offsets(tmp_path: Path):
    content = "\ufeffHeadline Here\r\n\r\nFirst sentence. Second one.\r\n\r\nThird para.\r\n"
    [article] = read(tmp_path / "b.txt", content)
    text = (tmp_path / "b.txt").read_bytes().decode("utf-8")
    assert article.title == "Headline Here"
    split = split_article(article)
    assert [text[s:e] for _, s, e in split.sentences] == [
        "First sentence.", "Second one.", "Third para."]


def test_markdown_front_matter(tmp_path: Path):
    [article] = read(tmp_path / "c.md", "---\ntitle: Camera deal\ndate: 2022-05-23\n"
                     "url: https://example.com/x\nauthor: Jane\ntags: [a, b]\n---\n\n"
                     "Leica signed with Xiaomi. It starts in July.\n")
    assert article.title == "Camera deal"
    assert article.date == "2022-05-23"
    assert article.url == "https://example.com/x"
    assert article.meta == {"author": "Jane", "tags": ["a", "b"]}
    assert sentence_texts(article) == ["Leica signed with Xiaomi.", "It starts in July."]


def test_markdown_malformed_front_matter_names_the_line(tmp_path: Path):
    with pytest.raises(UnreadableFile, match=r"c\.md: malformed YAML front matter at line \d"):
        read(tmp_path / "c.md", "---\ntitle: [unclosed\ndate: x\n---\nBody.\n")


def test_html_keeps_article_text_and_drops_navigation_and_scripts(tmp_path: Path):
    html = ("<html><head><title>Leica and Xiaomi</title>"
            "<meta property='article:published_time' content='2022-05-23'></head><body>"
            "<nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav><article>"
            "<h1>Leica and Xiaomi</h1><p>Leica has a new partner in Xiaomi. The first phone "
            "ships in July 2022 with the Leica branding on the back of the camera.</p>"
            "<script>document.write('tracking pixel code here')</script>"
            "<p>Huawei worked with Leica from 2016 to 2021, ending with the P50 series of "
            "phones that many reviewers praised.</p></article>"
            "<footer>Copyright 2022 Example Media</footer></body></html>")
    [article] = read(tmp_path / "d.html", html)
    assert article.offsets == "extracted"
    assert article.title == "Leica and Xiaomi"
    body = " ".join(sentence_texts(article))
    assert "Leica has a new partner in Xiaomi." in body
    assert "Huawei worked with Leica from 2016 to 2021" in body
    assert "tracking" not in body and "About us" not in body and "Copyright" not in body
    for _, start, end in split_article(article).sentences:
        assert article.text[start:end].strip() == article.text[start:end]


def test_jsonl_one_article_per_line_and_bad_lines_skipped(tmp_path: Path, capsys):
    lines = [json.dumps({"title": "One", "date": "2024-01-02", "url": "u1",
                         "text": "First article. Two sentences."}),
             "{not json",
             json.dumps({"title": "Two", "text": "Second article here.", "section": "tech"})]
    articles = read(tmp_path / "e.jsonl", "\n".join(lines) + "\n")
    assert [(a.title, a.date, a.record) for a in articles] == [
        ("One", "2024-01-02", 1), ("Two", None, 3)]
    assert articles[1].meta == {"section": "tech"}
    assert sentence_texts(articles[0]) == ["First article.", "Two sentences."]
    assert "e.jsonl" in capsys.readouterr().err


@pytest.mark.parametrize("name, content, reason", [
    ("empty.txt", b"", "empty file"),
    ("blank.txt", b"  \n\n ", "empty file"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary file"),
    ("latin1.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "not UTF-8"),
    ("notes.pdf", b"%PDF-1.4", "unsupported file type"),
])
def test_unreadable_files_get_a_clear_reason(tmp_path: Path, name: str, content: bytes,
                                             reason: str):
    with pytest.raises(UnreadableFile, match=reason) as info:
        read(tmp_path / name, content)
    assert name in str(info.value)


def test_hard_wrapped_first_line_is_body_not_title(tmp_path: Path):
    [article] = read(tmp_path / "w.txt", "The quick brown fox jumped over the lazy\n"
                     "dog near the river. It rested.\n")
    assert article.title is None
    assert sentence_texts(article)[0] == "The quick brown fox jumped over the lazy\ndog near the river."


def test_jsonl_text_may_contain_unicode_line_separators(tmp_path: Path):
    record = json.dumps({"title": "Sep", "text": "One\u2028two. Three."}, ensure_ascii=False)
    articles = read(tmp_path / "s.jsonl", record + "\n" + json.dumps({"text": "Next."}) + "\n")
    assert [a.record for a in articles] == [1, 2]


_HTML_BODY = ("<article><h1>Harbour bridge reopens</h1><p>The harbour bridge reopened to "
              "traffic after three months of repairs to its deck and cables, the council said."
              "</p><p>Engineers replaced more than two hundred bolts and repainted the whole "
              "span during the closure.</p></article>")


def test_html_date_never_comes_from_a_copyright_line(tmp_path: Path):
    """No date in the markup: no date, whatever the footer or the file's time say."""
    html = (f"<html><head><title>Harbour bridge reopens</title></head><body>{_HTML_BODY}"
            "<footer><p>Copyright 2022 Example News. All rights reserved.</p></footer>"
            "</body></html>")
    [article] = read(tmp_path / "bridge.html", html)
    assert "harbour bridge reopened" in article.text
    assert article.date is None


@pytest.mark.parametrize("markup", [
    "<meta property='article:published_time' content='2021-03-04T09:00:00Z'>",
    "<meta name='date' content='2021-03-04'>",
])
def test_html_date_comes_from_the_markup(tmp_path: Path, markup: str):
    html = (f"<html><head><title>Harbour bridge reopens</title>{markup}</head><body>"
            f"{_HTML_BODY}<footer>Copyright 2022 Example News</footer></body></html>")
    [article] = read(tmp_path / "bridge.html", html)
    assert article.date == "2021-03-04"
