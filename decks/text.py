"""Plain text <-> Anki field HTML.

`normalise` is the one definition of "normal" text: lines split on any line ending, runs of whitespace
within a line collapsed to one space, lines stripped, at most one empty line in a row, the whole stripped.
`html_to_text` renders HTML to lines and then normalises them, so for normal text
`html_to_text(text_to_html(text)) == text`.
"""

import html
import re
from html.parser import HTMLParser

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
_DROPPED = frozenset({"script", "style"})  # their content is not text; <img> has none
_BLOCKS = frozenset(
    {"div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr"}
)
_CELLS = frozenset({"td", "th"})


def normalise(text: str) -> str:
    lines = (" ".join(line.split()) for line in _LINE_BREAK.split(text))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    # Note: "[" of a literal "[sound:" is written as a character reference, so that Anki does not play it
    # and html_to_text (which drops sound tags from the source) gives the text back.
    escaped = html.escape(text).replace("[sound:", "&#91;sound:")
    return escaped.replace("\n", "<br>")


def html_to_text(html: str) -> str:
    markup = _closed_part(_SOUND.sub("", html))
    try:
        return normalise(_TextParser.text_of(markup))
    except AssertionError:  # how html.parser refuses e.g. "<![" that opens no known section: read it as text
        return normalise(_TextParser.text_of(markup.replace("<", "&lt;")))


def _closed_part(html: str) -> str:
    """`html` without a trailing tag or comment that nothing closes (an HTML5 parser drops it at the end)."""
    # Note: Python's html.parser before 3.11.13 (CVE-2025-6069) rescans the rest of the input from each "<"
    # of such a tail instead, which takes minutes on a crafted field of a few hundred KB.
    unclosed = (opening.search(html, _end_of_last(closing, html)) for opening, closing in _CONSTRUCTS)
    return html[: min((match.start() for match in unclosed if match), default=len(html))]


def _end_of_last(pattern: re.Pattern[str], text: str) -> int:
    return max((match.end() for match in pattern.finditer(text)), default=0)


class _TextParser(HTMLParser):
    """The text of HTML: <br> breaks a line, a block element is a line of its own, a table cell ends with a
    space, whitespace in the source is a space, entities are decoded, comments and <script>/<style> dropped."""

    # Note: the stdlib parser's events are used directly: bs4 (on this same parser) builds crafted nestings
    # into its tree in quadratic time, seconds for 200 KB and minutes for 1 MB; this is linear.

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.at_line_start = True
        self.dropping: str | None = None

    @classmethod
    def text_of(cls, markup: str) -> str:
        parser = cls()
        parser.feed(markup)
        parser.close()
        return "".join(parser.pieces)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break_line()
        elif tag in _BLOCKS:
            self._end_line()
        elif tag in _DROPPED:
            self.dropping = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/>, <div/>: no end tag follows

    def handle_endtag(self, tag: str) -> None:
        if tag == self.dropping:
            self.dropping = None
        elif tag in _BLOCKS:
            self._end_line()
        elif tag in _CELLS:
            self.pieces.append(" ")

    def handle_data(self, data: str) -> None:
        if self.dropping is None:
            text = _WHITESPACE.sub(" ", data)
            self.pieces.append(text)
            self.at_line_start = self.at_line_start and not text.strip()

    def _break_line(self) -> None:
        self.pieces.append("\n")
        self.at_line_start = True

    def _end_line(self) -> None:
        if not self.at_line_start:
            self._break_line()
