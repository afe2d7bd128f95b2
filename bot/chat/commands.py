"""The chat's commands in Textual's command palette (ctrl+p): k, re-index, switch corpus..."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import ChatApp

K_CHOICES = (1, 2, 3, 5, 8, 10)


class ChatCommands(Provider):
    """Commands that act on the chat (all of them also reachable with a key or by name)."""

    @property
    def chat(self) -> "ChatApp":
        return self.app  # type: ignore[return-value]

    def commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        chat = self.chat
        for k in K_CHOICES:
            yield (f"Set k = {k}: show {k} sentence{'s' if k > 1 else ''} per answer",
                   partial(chat.set_k, k), f"now {chat.k}")
        yield ("Re-index the corpus", chat.action_reindex,
               "update the index from the corpus files, re-fetching its feeds and pages "
               "(embeds only what changed)")
        yield ("Rebuild the index from scratch", partial(chat.action_reindex, True),
               "re-embed every article (after a model or format change)")
        yield ("Switch corpus...", chat.action_switch_corpus,
               "index other folders, files or URLs and chat about them")
        yield ("Add a feed or URL...", chat.action_add_source,
               "index a feed (RSS, Atom, JSON Feed) or an article page along with the corpus")
        yield ("Save transcript", chat.action_save_transcript, "write the chat as Markdown")
        yield ("Copy evidence", chat.action_copy_evidence,
               "copy the selected (or best) sentence as a Markdown quote")
        yield ("Filter articles by date or source...", chat.action_filter,
               "answer only from articles dated since/until a date or from some sources")
        if chat.filters.active:
            yield ("Clear filter", chat.clear_filter, f"now: {chat.filters.describe()}")
        if not chat.article_open:  # the conversation waits unseen behind the article view
            yield ("Clear conversation", chat.action_clear, "start a new topic (and drop the "
                   "filter)")
        yield ("Help: keys", chat.action_help, "list every key binding")

    async def discover(self) -> Hits:
        for name, callback, help_text in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
