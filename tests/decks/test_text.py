"""decks.text: Anki field HTML to plain text and back, and what "normal" text is."""

import time
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decks.text import html_to_text, normalise, text_to_html

# Characters and fragments that HTML, Anki or the whitespace rules treat specially, mixed into random text.
_TRICKY = st.sampled_from(
    "< > & \" ' &amp; &lt; &#91; <br> <div> [sound:a.mp3] [ ] é 😀".split()
    + ["\n", "\r\n", "\r", " ", "\t", "\xa0", "\u2028"]
)
normal_text = st.lists(st.characters(codec="utf-8") | _TRICKY).map("".join).map(normalise)


def test_a_br_is_a_line_break():
    assert html_to_text("one<br>two<br/>three") == "one\ntwo\nthree"


@pytest.mark.parametrize("tag", ["div", "p", "li", "tr", "h1", "h6"])
def test_a_block_element_is_a_line_of_its_own(tag):
    assert html_to_text(f"before<{tag}>inside</{tag}>after") == "before\ninside\nafter"


def test_consecutive_blocks_are_consecutive_lines_without_empty_lines_between():
    assert html_to_text("<div>one</div><div>two</div>\n<p>three</p>") == "one\ntwo\nthree"


def test_ankis_empty_div_is_one_empty_line():
    assert html_to_text("one<div><br></div><div>two</div>") == "one\n\ntwo"


def test_no_more_than_one_empty_line_in_a_row_is_kept():
    assert html_to_text("one<br><br><br><br>two") == "one\n\ntwo"


def test_table_cells_are_separated_by_a_space():
    assert html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>") == "a b\nc"


def test_sound_tags_images_scripts_and_styles_are_dropped():
    html = 'Say [sound:hola.mp3]<img src="x.png">hola<script>alert(1)</script><style>b {}</style>!'
    assert html_to_text(html) == "Say hola!"


def test_comments_are_dropped():
    assert html_to_text("a<!-- note to self -->b") == "ab"


def test_many_unclosed_sound_tags_are_text():
    assert html_to_text("[sound:" * 3) == "[sound:" * 3


def test_entities_are_decoded():
    assert html_to_text("Tom &amp; Jerry &lt;3 &quot;caf&eacute;&quot; &#128512;") == 'Tom & Jerry <3 "café" 😀'


def test_inline_markup_keeps_its_text_only():
    assert html_to_text("<b>bold</b> and <i>it</i><u>alic</u>") == "bold and italic"


def test_whitespace_in_the_source_is_a_space_and_lines_are_stripped():
    assert html_to_text("  one\n  two&nbsp;&nbsp;\tthree <br>   four  ") == "one two three\nfour"


def test_a_field_that_is_just_a_url_or_a_file_name_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert html_to_text("https://example.com/a") == "https://example.com/a"
        assert html_to_text("notes.txt") == "notes.txt"


def test_a_trailing_tag_that_nothing_closes_is_dropped_as_an_html5_parser_does():
    assert html_to_text("if a<b then") == "if a"
    assert html_to_text("kept <!-- never closed <b>x</b>") == "kept"


def test_markup_the_parser_refuses_is_read_as_text():
    assert html_to_text("ok <![ weird >text") == "ok <![ weird >text"


def test_ms_office_marked_sections_are_dropped():
    assert html_to_text("<p><![if !supportLists]>·<span> </span><![endif]>Item one</p>") == "· Item one"


def test_script_content_is_dropped_even_when_it_looks_like_markup():
    assert html_to_text("<script>if (a<b) { x = '</div>' }</script>text") == "text"


@pytest.mark.parametrize(
    "unit, repeat",
    [
        ("<div>", 50_000),  # deep nesting
        ("x</<table><tr><td>", 40_000),  # bs4 built this tree in quadratic time: over a minute
        ("<a ", 100_000),  # html.parser before 3.11.13 rescanned from every unclosed "<": minutes
        ("<!-- ", 50_000),
        ("<![CDATA[ >", 150_000),
        ("[sound:", 50_000),  # Anki's own sound tag pattern: over a minute
    ],
)
def test_a_crafted_field_is_read_in_linear_time(unit, repeat):
    started = time.monotonic()
    html_to_text(unit * repeat)
    assert time.monotonic() - started < 10


def test_text_to_html_escapes_the_text_and_writes_newlines_as_br():
    assert text_to_html('a < b & "c"\nd') == "a &lt; b &amp; &quot;c&quot;<br>d"


def test_a_literal_sound_tag_in_text_is_not_written_as_one():
    assert "[sound:" not in text_to_html("[sound:x.mp3]")
    assert html_to_text(text_to_html("play [sound:x.mp3] now")) == "play [sound:x.mp3] now"


def test_normalise_applies_the_same_rules_to_plain_text():
    assert normalise("  a \t b \r\nc\rd\n\n\n\n e\xa0 \n\n") == "a b\nc\nd\n\ne"


def test_normalise_does_not_read_html():
    assert normalise("<b>x</b>&amp;") == "<b>x</b>&amp;"


@given(st.text())
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


@given(normal_text)
def test_normal_text_survives_a_trip_through_html(text):
    assert html_to_text(text_to_html(text)) == text
