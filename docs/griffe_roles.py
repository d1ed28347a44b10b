"""A Griffe extension: Sphinx roles in docstrings (``:func:`mer.x```) read as code in the docs site.

The package's docstrings use reStructuredText roles (:func:, :class:, :mod:, :data:,
:meth:, :attr:, :exc:); mkdocstrings' numpy style does not resolve them, so they would
show as typed. Each becomes inline code with the leading ``~`` dropped.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|data|meth|attr|exc|obj|const):`~?([^`]+)`")


def _rewrite(obj) -> None:
    if obj.docstring is not None:
        text = ROLE.sub(r"`\1`", obj.docstring.value)
        obj.docstring.value = re.sub(r"::\n\n", ":\n\n", text)  # an rst literal block: indented code in Markdown
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring of a package once it is loaded."""

    def on_package(self, *, pkg, **kwargs) -> None:
        _rewrite(pkg)
