"""YAML as a user of group_vars means it: nothing lost or changed without a word.

PyYAML reads YAML 1.1, which keeps the last of a key written twice in one mapping, turns the words
`on`, `off`, `yes`, `no` into booleans (llama-server's `--flash-attn on` would become a bare flag),
reads `0755` as the octal 493 and `22:30` as the base-60 number 1350, and builds a structure that
contains itself from an alias inside its own anchor. This loader refuses each of those with the
line, and leaves the words as words (a boolean setting still accepts them: the models read
`yes`/`on` as true).
"""

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

BOOL = "tag:yaml.org,2002:bool"
MERGE = "tag:yaml.org,2002:merge"
AMBIGUOUS_NUMBER = "tag:thorfleet,2026:ambiguous-number"

# A number YAML 1.1 reads in another base than the user likely meant: a leading zero (octal) or colons (base 60).
_AMBIGUOUS = re.compile(r"^[-+]?(?:0[0-9_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$")


class StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """An alias inside the node its own anchor names would make the value contain itself."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open_anchors:
            raise ComposerError(None, None, f"the alias *{event.anchor} is inside the value its anchor &{event.anchor} "
                                "names, so that value would contain itself", event.start_mark)  # type: ignore[arg-type]
        anchor = None if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
        if anchor:
            self._open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            if anchor:
                self._open_anchors.discard(anchor)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A key written twice in one mapping is an error naming both lines (merged `<<` keys may be overridden)."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise ConstructorError(
                        None, None, f"key {key!r} is written twice in one mapping (lines {seen[key] + 1} and "
                        f"{key_node.start_mark.line + 1}); YAML would keep only the second: remove one",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_ambiguous_number(self, node: ScalarNode) -> None:
        raise ConstructorError(None, None, f"{node.value} would be read as a number in another base (YAML 1.1: a leading "
                               f"zero is octal, colons are base 60): write \"{node.value}\" in quotes for the text, "
                               "or the number without them", node.start_mark)


# Only true/false (any case) are booleans; yes/no/on/off/y/n stay the words they are.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# Checked before YAML 1.1's int and float resolvers for the same first characters.
for first in "-+0123456789":
    StrictLoader.yaml_implicit_resolvers.setdefault(first, []).insert(0, (AMBIGUOUS_NUMBER, _AMBIGUOUS))
StrictLoader.add_constructor(AMBIGUOUS_NUMBER, StrictLoader.construct_ambiguous_number)


# What one file may hold once its aliases are expanded: far above any real configuration, far below what
# a "billion laughs" file (aliases of aliases) would cost the merge and validation that copy it out.
MAX_VALUES = 100_000


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values the node holds with every alias expanded (each shared node counted once)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a node that contains itself is refused by compose_node before this
        if isinstance(node, MappingNode):
            sizes[id(node)] += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            sizes[id(node)] += sum(_expanded_size(item, sizes) for item in node.value)
    return sizes[id(node)]


def load(text: str) -> Any:
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if (size := _expanded_size(node, {})) > MAX_VALUES:
            raise ComposerError(None, None, f"its aliases expand it to {size:,} values, more than the {MAX_VALUES:,} a "
                                "configuration file may hold: write the values out, or use fewer aliases of aliases", node.start_mark)
        return loader.construct_document(node)
    finally:
        loader.dispose()
