"""YAML from files the bot did not write (Markdown front matter, golden files), loaded with
limits: safe types only, no aliases (a "billion laughs" of nested ``*refs`` expands a 400-byte
header to gigabytes), bounded nesting, and impossible dates (``2020-13-45``) kept as the text
they are instead of failing."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError


class LimitedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and nesting deeper than ``max_depth``."""

    max_depth = 32

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(None, None, "aliases (*name) are not allowed here",
                                event.start_mark)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise ComposerError(None, None, f"nested deeper than {self.max_depth} levels",
                                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):  # 2020-13-45: a date that does not exist
            return self.construct_scalar(node)


LimitedLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                  LimitedLoader.construct_yaml_timestamp)


def load_limited(block: str, max_depth: int = 32) -> Any:
    """The YAML value of ``block`` (raises ``yaml.YAMLError`` for bad or refused YAML)."""
    loader = LimitedLoader(block)
    loader.max_depth = max_depth
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
