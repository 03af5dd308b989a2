"""Read an FTS5 MATCH expression into a small tree the search side index can run: what FTS5 matches, or more.

The tree's nodes are ``("phrase", [words])``, ``("and", [nodes])`` and ``("or", [nodes])``. Whatever only
narrows a match is dropped, so the tree matches a superset of FTS5's documents: column filters
(``title:``), ``^`` (start of column), the right side of ``NOT``, the distance of ``NEAR`` (kept as AND).
FTS5 then decides on the candidates. What cannot be widened so (prefix ``word*``) or does not parse is
:class:`Unsupported`: the search runs on FTS5 alone, which also reports syntax errors as it always did.
"""

from __future__ import annotations

from typing import Any

_SPECIAL = set('"():*+^-{},')


class Unsupported(Exception):
    pass


def _is_bare(ch: str) -> bool:
    return ch.isalnum() or ch == "_" or ord(ch) > 127 or ch == "\x1a"


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise Unsupported("unterminated string")
                if text[j] == '"':
                    if j + 1 < n and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            out.append(("str", "".join(buf)))
            i = j + 1
        elif ch in _SPECIAL:
            out.append(("op", ch))
            i += 1
        elif _is_bare(ch):
            j = i
            while j < n and _is_bare(text[j]):
                j += 1
            word = text[i:j]
            out.append(("kw" if word in ("AND", "OR", "NOT", "NEAR") else "word", word))
            i = j
        else:
            raise Unsupported(f"character {ch!r}")
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else None

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise Unsupported(f"expected {value or kind}")
        self.pos += 1
        return tok[1]

    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek() is not None:
            raise Unsupported("trailing input")
        return node

    def or_expr(self) -> Any:
        parts = [self.and_expr()]
        while self.peek() == ("kw", "OR"):
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def and_expr(self) -> Any:
        parts = [self.not_expr()]
        while (tok := self.peek()) is not None and tok not in (("kw", "OR"), ("op", ")")):
            if tok == ("kw", "AND"):
                self.pos += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def not_expr(self) -> Any:
        node = self.unary()
        while self.peek() == ("kw", "NOT"):
            self.pos += 1
            self.unary()  # parsed for syntax; a NOT only narrows, so the superset keeps the left side
        return node

    def unary(self) -> Any:
        self.column_filter()
        tok = self.peek()
        if tok == ("op", "("):
            self.pos += 1
            node = self.or_expr()
            self.take("op", ")")
            return node
        if tok == ("kw", "NEAR") and self.peek(1) == ("op", "("):
            self.pos += 2
            phrases = []
            while self.peek() not in (("op", ","), ("op", ")")):
                phrases.append(self.phrase())
            if self.peek() == ("op", ","):
                self.pos += 1
                self.take("word")
            self.take("op", ")")
            if not phrases:
                raise Unsupported("empty NEAR")
            return phrases[0] if len(phrases) == 1 else ("and", phrases)
        return self.phrase()

    def column_filter(self) -> None:
        """Skip ``col :``, ``- col :``, ``{a b} :``: they narrow, so the superset leaves them out."""
        start = self.pos
        if self.peek() == ("op", "-"):
            self.pos += 1
        tok = self.peek()
        if tok == ("op", "{"):
            self.pos += 1
            while self.peek() is not None and self.peek()[0] == "word":
                self.pos += 1
            self.take("op", "}")
            self.take("op", ":")
        elif tok is not None and tok[0] == "word" and self.peek(1) == ("op", ":"):
            self.pos += 2
        elif self.pos != start:
            raise Unsupported("'-' without a column")

    def phrase(self) -> Any:
        if self.peek() == ("op", "^"):
            self.pos += 1
        words = [self.word()]
        while self.peek() == ("op", "+"):
            self.pos += 1
            words.append(self.word())
        if self.peek() == ("op", "*"):
            raise Unsupported("prefix query")
        return ("phrase", words)

    def word(self) -> str:
        tok = self.peek()
        if tok is None or tok[0] not in ("word", "str"):
            raise Unsupported("expected a word")
        self.pos += 1
        return tok[1]


def parse(match: str) -> Any:
    """The tree for an FTS5 MATCH string, or :class:`Unsupported`."""
    return _Parser(match).parse()
