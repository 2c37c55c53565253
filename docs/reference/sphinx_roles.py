"""A Griffe extension for the API reference: the docstrings' reStructuredText bits, read as Markdown.

qfilter's docstrings are written for ``help()`` and Sphinx habits: cross-references
as roles (``:class:`~qfilter.core.plan.Plan```, ``:func:`compile_plan```,
``:mod:`.closures```) and literal blocks after ``::``. mkdocstrings renders
Markdown, where a role would show as raw text. Before rendering, each role
becomes an optional cross-reference (a link when the target is on a page of
the site, its name in code otherwise: the docstrings may name private modules
that have no page) and each ``::`` block a fenced Python block.

mkdocs.yml loads it (``extensions:`` of the mkdocstrings Python handler); it is
part of the docs build only, not of the package.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|obj|exc|const):`(?P<text>[^`]+)`")
_EXPLICIT = re.compile(r"(?P<title>.*?)\s*<(?P<target>[^>]+)>")
_LITERAL = re.compile(r"::\n\n(?P<block>(?:(?:[ \t]+.*)?\n)+)")


def _target(obj: griffe.Object | griffe.Alias, name: str) -> str:
    """The full path ``name`` means inside ``obj``'s docstring, as Python's scoping would find it."""
    if name.startswith("."):
        dots = len(name) - len(name.lstrip("."))
        module = obj.module
        base = module.path if module.is_init_module else module.path.rpartition(".")[0]
        for _ in range(dots - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{name[dots:]}"
    head, _, rest = name.partition(".")
    try:
        found = obj.resolve(head)
    except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
        return name  # already absolute, or unknown: the reference stays optional
    return f"{found}.{rest}" if rest else found


def _cross_reference(obj: griffe.Object | griffe.Alias, match: re.Match[str]) -> str:
    text = match["text"]
    explicit = _EXPLICIT.fullmatch(text)
    if explicit:
        title, name = explicit["title"], explicit["target"]
    else:
        name = text.lstrip("~")
        title = name.rpartition(".")[2] if text.startswith("~") else name
    target = _target(obj, name.lstrip("~"))
    return f'<autoref identifier="{html.escape(target)}" optional><code>{html.escape(title)}</code></autoref>'


def _fenced(match: re.Match[str]) -> str:
    lines = match["block"].rstrip("\n").split("\n")
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    body = "\n".join(line[indent:] for line in lines)
    return f":\n\n```python\n{body}\n```\n\n"


def _rewrite(obj: griffe.Object) -> None:
    docstring = obj.docstring
    if docstring is None:
        return
    text = _LITERAL.sub(_fenced, docstring.value + "\n")
    docstring.value = _ROLE.sub(lambda match: _cross_reference(obj, match), text).rstrip("\n")


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring's roles and ``::`` literal blocks into Markdown once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Every object below the top-level package (modules, classes, functions, attributes)."""
        _rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """The top-level package itself, which gets no ``on_object`` call."""
        _rewrite(pkg)
