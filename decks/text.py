"""Plain text <-> Anki field HTML.

`normalise` is the one definition of "normal" text: lines split on any line ending, runs of whitespace
within a line collapsed to one space, lines stripped, at most one empty line in a row, the whole stripped.
`html_to_text` renders HTML to lines and then normalises them, so for normal text
`html_to_text(text_to_html(text)) == text`.
"""

import html
import re
from collections.abc import Iterator

from bs4 import BeautifulSoup, ParserRejectedMarkup
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

# Note: bs4 builds some crafted nestings in quadratic time (seconds for 200 KB, minutes for 1 MB), so a field's
# HTML is cut here. A card's body is at most 20,000 characters, which text_to_html writes in at most 120,000.
MAX_HTML_CHARS = 256 * 1024

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BLANK_RUN = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")
# Note: matched against the field's HTML source, as Anki does. Anki's own pattern, \[sound:(.+?)\], takes
# quadratic time on a crafted field of many unclosed tags; a name without brackets keeps this one linear.
_SOUND = re.compile(r"\[sound:[^\[\]]+\]")
# What opens each construct that html.parser scans ahead for the end of, and what ends it.
_CONSTRUCTS = [
    (re.compile(r"<[a-zA-Z/!?]"), re.compile(">")),
    (re.compile("<!--"), re.compile("-->")),
    (re.compile(r"<!\[\s*(?:cdata|temp|ignore|include|rcdata)", re.IGNORECASE), re.compile(r"\]\]>")),
    (re.compile(r"<!\[\s*(?:if|else|endif)", re.IGNORECASE), re.compile(r"\]\s*>")),  # MS Office's marked sections
]
_DROPPED = frozenset({"img", "script", "style"})
_BLOCKS = frozenset(
    {"div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr"}
)
_CELLS = frozenset({"td", "th"})


class _Break(NavigableString):
    """Stands in for a <br>: always a line break."""


class _BlockEdge(NavigableString):
    """Stands in for the start or the end of a block element: a line break, unless the text is already
    at the start of a line."""


def normalise(text: str) -> str:
    lines = (" ".join(line.split()) for line in _LINE_BREAK.split(text))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    # Note: "[" of a literal "[sound:" is written as a character reference, so that Anki does not play it
    # and html_to_text (which drops sound tags from the source) gives the text back.
    escaped = html.escape(text).replace("[sound:", "&#91;sound:")
    return escaped.replace("\n", "<br>")


def html_to_text(html: str) -> str:
    markup = _closed_part(_SOUND.sub("", html[:MAX_HTML_CHARS]))
    try:
        soup = _parse(markup)
    except ParserRejectedMarkup:  # e.g. "<![" that starts no known section: read the field as text
        soup = _parse(markup.replace("<", "&lt;"))
    return normalise(_render(soup))


def _closed_part(html: str) -> str:
    """`html` without a trailing tag or comment that nothing closes (an HTML5 parser drops it at the end)."""
    # Note: Python's html.parser before 3.11.13 (CVE-2025-6069) rescans the rest of the input from each "<"
    # of such a tail instead, which takes minutes on a crafted field of a few hundred KB.
    unclosed = (opening.search(html, _end_of_last(closing, html)) for opening, closing in _CONSTRUCTS)
    return html[: min((match.start() for match in unclosed if match), default=len(html))]


def _end_of_last(pattern: re.Pattern[str], text: str) -> int:
    return max((match.end() for match in pattern.finditer(text)), default=0)


def _parse(markup: str) -> BeautifulSoup:
    # Note: the trailing newline is whitespace, so it changes no text; it stops bs4 warning that short
    # markup "looks like a URL or a filename" (a field is often just a URL).
    return BeautifulSoup(markup + "\n", "html.parser")


def _render(root: Tag) -> str:
    pieces: list[str] = []
    at_line_start = True
    for node in _strings(root):
        if isinstance(node, _Break) or (isinstance(node, _BlockEdge) and not at_line_start):
            pieces.append("\n")
            at_line_start = True
        elif not isinstance(node, _BlockEdge | PreformattedString):
            text = _WHITESPACE.sub(" ", node)
            pieces.append(text)
            at_line_start = at_line_start and not text.strip()
    return "".join(pieces)


def _strings(root: Tag) -> Iterator[NavigableString]:
    """The strings under `root` in document order, with markers standing in for <br> and block edges."""
    # Note: an explicit stack rather than recursion or tree edits: a crafted field can nest tags
    # thousands deep, and bs4's append/insert on such a tree is quadratic.
    pending: list[PageElement] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, Tag):
            pending.extend(reversed(_stand_ins(node)))
        elif isinstance(node, NavigableString):
            yield node


def _stand_ins(tag: Tag) -> list[PageElement]:
    if tag.name == "br":
        return [_Break("\n")]
    if tag.name in _DROPPED:
        return []
    if tag.name in _BLOCKS:
        return [_BlockEdge(""), *tag.contents, _BlockEdge("")]
    if tag.name in _CELLS:
        return [*tag.contents, NavigableString(" ")]
    return list(tag.contents)
