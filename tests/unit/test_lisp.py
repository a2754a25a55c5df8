"""The small Lisp reader and printer (README "The mail-server argument", "literal Lisp text").

The examples pin the mapping of the module docstring and every error with its position;
the properties check that whatever ``to_lisp`` writes ``read_lisp`` reads back, and that
no text, however broken, makes the reader raise anything but ``LispSyntaxError``.
"""

from __future__ import annotations

import string
from typing import Any, Tuple

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from post_office import Keyword, read_lisp, to_lisp
from post_office.errors import LispSyntaxError, PostOfficeError, ServerSpecError

# --------------------------------------------------------------------------- Keyword


def test_keyword_strips_one_colon_and_canonicalises() -> None:
    assert Keyword(":port").name == "port"
    assert Keyword("port").name == "port"
    assert Keyword("CA_FILE").name == "ca-file"
    assert Keyword("::x").name == ":x"


@pytest.mark.parametrize(
    "a, b",
    [
        (":port", "port"),
        (":PORT", "port"),
        ("Port", ":pOrT"),
        ("ca_file", "ca-file"),
        (":CA_FILE", ":ca-file"),
        ("certificate_password", "Certificate-Password"),
        ("server-name", "SERVER_NAME"),
    ],
)
def test_keyword_equality_ignores_case_colon_and_hyphen_underscore(a: str, b: str) -> None:
    assert Keyword(a) == Keyword(b)
    assert hash(Keyword(a)) == hash(Keyword(b))
    assert {Keyword(a): 1}[Keyword(b)] == 1


def test_keyword_differs_from_other_keywords_and_from_strings() -> None:
    assert Keyword("port") != Keyword("ports")
    assert Keyword("port") != ":port"
    assert Keyword("port") != "port"
    assert ":port" != Keyword("port")  # noqa: SIM300 (the reflected comparison)
    assert Keyword("port") != 25


def test_keyword_repr_str_and_python_name() -> None:
    kw = Keyword(":CA_File")
    assert repr(kw) == "Keyword('ca-file')"
    assert str(kw) == ":ca-file"
    assert kw.python_name == "ca_file"
    assert eval(repr(kw), {"Keyword": Keyword}) == kw


def test_keyword_is_immutable() -> None:
    kw = Keyword("port")
    with pytest.raises(AttributeError):
        kw.name = "ssl"
    with pytest.raises(AttributeError):
        kw.other = 1
    assert kw.name == "port"


@pytest.mark.parametrize("bad", [None, 1, b"port", Keyword("port")])
def test_keyword_needs_a_str(bad: Any) -> None:
    with pytest.raises(TypeError, match="Keyword name must be a str"):
        Keyword(bad)


# --------------------------------------------------------------------------- read_lisp


@pytest.mark.parametrize(
    "text, value",
    [
        # strings, with \ escaping the next character whatever it is
        ('"mail.corp"', "mail.corp"),
        ('""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\\\""', '\\"'),
        (r'"\q\n"', "qn"),
        ('"two\nlines"', "two\nlines"),
        ('"Grüße, 日本 ☃"', "Grüße, 日本 ☃"),
        ('"(not a list) ; nor a comment"', "(not a list) ; nor a comment"),
        # integers, signed, with Lisp's optional trailing decimal point
        ("42", 42),
        ("0", 0),
        ("-7", -7),
        ("+5", 5),
        ("-0", 0),
        ("007", 7),
        ("25.", 25),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        # keywords, case-insensitive
        (":port", Keyword("port")),
        (":PORT", Keyword("port")),
        (":ca_file", Keyword("ca-file")),
        (":Ca-File", Keyword("ca-file")),
        (":tlsv1.2", Keyword("tlsv1.2")),
        (":sslv3+", Keyword("sslv3+")),
        # t and nil, case-insensitive
        ("t", True),
        ("T", True),
        ("nil", None),
        ("NIL", None),
        ("Nil", None),
        ("()", None),
        ("(  )", None),
        ("( ; empty\n )", None),
        # lists
        ("(1 2 3)", [1, 2, 3]),
        ('(1 (2 (3 (4))) "x")', [1, [2, [3, [4]]], "x"]),
        ("(nil t ())", [None, True, None]),
        ('(:a 1 :b "two")', [Keyword("a"), 1, Keyword("b"), "two"]),
        ('("a"1"b")', ["a", 1, "b"]),
        ("((1)(2))", [[1], [2]]),
        # dotted pairs
        ('("mail.corp" . 2525)', ("mail.corp", 2525)),
        ("(1 . 2)", (1, 2)),
        ("(1 . nil)", (1, None)),
        ("(1 .(2 3))", (1, [2, 3])),
        ('(1 ."x")', (1, "x")),
        ("((1 . 2) . (3 . 4))", ((1, 2), (3, 4))),
        ('(:program . ("sendmail" "-t"))', (Keyword("program"), ["sendmail", "-t"])),
        # a leading quote, as in Lisp source
        ("'(1 2)", [1, 2]),
        ("'  (1 2)", [1, 2]),
        ("'nil", None),
        ("''(1)", [1]),
        ("('a 'b)".replace("a", '"a"').replace("b", '"b"'), ["a", "b"]),
        ('\'"s"', "s"),
        # comments and white space
        ("; a comment\n(1 ; one\n 2) ; trailing", [1, 2]),
        ("(1 2) ; no newline at the end", [1, 2]),
        ("\t\n  42 \r\n", 42),
        (
            '("mail.corp" :port 587 :starttls t)',
            ["mail.corp", Keyword("port"), 587, Keyword("starttls"), True],
        ),
    ],
)
def test_read_lisp(text: str, value: Any) -> None:
    result = read_lisp(text)
    assert result == value
    assert type(result) is type(value)


def test_read_lisp_keeps_tuples_and_lists_apart() -> None:
    assert read_lisp("(1 2)") == [1, 2]
    assert isinstance(read_lisp("(1 2)"), list)
    assert isinstance(read_lisp("(1 . 2)"), tuple)
    assert read_lisp("(t)") == [True]
    assert read_lisp("(t)")[0] is True


def test_read_lisp_integers_are_ints_not_bools() -> None:
    assert read_lisp("1") == 1 and read_lisp("1") is not True
    assert type(read_lisp("0")) is int


@pytest.mark.parametrize(
    "text, position, words",
    [
        ("", 0, "unexpected end"),
        ("   ", 3, "unexpected end"),
        ("; only a comment", 16, "unexpected end"),
        ("'", 1, "unexpected end"),
        ("(1 2", 0, "unclosed '('"),
        ("  (1 (2)", 2, "unclosed '('"),
        ("(1 (2 3)", 0, "unclosed '('"),
        ("((1 2)", 0, "unclosed '('"),
        ('"abc', 0, "unterminated string"),
        ('(1 "ab', 3, "unterminated string"),
        ('"ends in an escape\\', 0, "unterminated string"),
        ('"ends in an escaped quote\\"', 0, "unterminated string"),
        (")", 0, "unexpected ')'"),
        ("  )", 2, "unexpected ')'"),
        ("(1))", 3, "unexpected text after the first form"),
        ("1 2", 2, "unexpected text after the first form"),
        ("(1) (2)", 4, "unexpected text after the first form"),
        ('"a" "b"', 4, "unexpected text after the first form"),
        ("foo", 0, "symbol 'foo'"),
        ("(1 foo)", 3, "symbol 'foo'"),
        ("(:port *port*)", 7, "symbol '*port*'"),
        ("(1.5)", 1, "symbol '1.5'"),
        ("(1 .2)", 3, "symbol '.2'"),
        (".", 0, "symbol '.'"),
        ("#x10", 0, "symbol '#x10'"),
        (":", 0, "a keyword needs a name"),
        ("(: 1)", 1, "a keyword needs a name"),
        ("( . 2)", 2, "two-element dotted pair"),
        ("(1 2 . 3)", 5, "two-element dotted pair"),
        ("(1 . 2 3)", 7, "expected ')' after the cdr"),
        ("(1 . 2", 6, "expected ')' after the cdr"),
        ("(1 . )", 5, "unexpected ')'"),
        ("(1 .", 4, "unexpected end"),
        ("9" * 5000, 0, "more than 1000 digits"),
        ("(" * 101, 100, "nested more than 100 deep"),
    ],
    ids=lambda v: (repr(v)[:24] + "...") if isinstance(v, str) and len(v) > 24 else None,
)
def test_read_lisp_errors_name_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(LispSyntaxError) as info:
        read_lisp(text)
    err = info.value
    assert err.position == position
    assert isinstance(err, ServerSpecError)
    assert isinstance(err, ValueError)
    assert isinstance(err, PostOfficeError)
    message = str(err)
    assert f"position {position}" in message
    assert words in message


def test_read_lisp_error_shows_the_text_near_the_fault() -> None:
    with pytest.raises(LispSyntaxError, match="mystery"):
        read_lisp('("mail.corp" :port mystery)')


def test_read_lisp_deep_but_reasonable_nesting_reads() -> None:
    value = read_lisp("(" * 100 + ")" * 100)  # the innermost () is nil
    for _ in range(99):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value is None


def test_read_lisp_many_quotes_do_not_recurse() -> None:
    assert read_lisp("'" * 100_000 + "7") == 7


def test_read_lisp_deep_nesting_is_a_syntax_error_not_a_recursion_error() -> None:
    with pytest.raises(LispSyntaxError):
        read_lisp("(" * 100_000)
    with pytest.raises(LispSyntaxError):
        read_lisp("(" * 100_000 + ")" * 100_000)


@pytest.mark.parametrize("bad", [b"(1 2)", None, 42, ["(1)"]])
def test_read_lisp_needs_a_str(bad: Any) -> None:
    with pytest.raises(TypeError, match="read_lisp expects a str"):
        read_lisp(bad)


# --------------------------------------------------------------------------- to_lisp


@pytest.mark.parametrize(
    "value, text",
    [
        (True, "t"),
        (False, "nil"),
        (None, "nil"),
        (0, "0"),
        (-7, "-7"),
        ("mail.corp", '"mail.corp"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("", '""'),
        (Keyword("CA_FILE"), ":ca-file"),
        ([], "nil"),
        ((), "nil"),
        ([1, "a", None], '(1 "a" nil)'),
        ((1, 2, 3), "(1 2 3)"),
        ((1,), "(1)"),
        (("mail.corp", 2525), '("mail.corp" . 2525)'),
        ((1, [2, 3]), "(1 . (2 3))"),
        ((1, (2, 3)), "(1 . (2 . 3))"),
        ([1, [2, [3]]], "(1 (2 (3)))"),
        (
            ["mail.corp", Keyword("port"), 587, Keyword("starttls"), True],
            '("mail.corp" :port 587 :starttls t)',
        ),
    ],
)
def test_to_lisp(value: Any, text: str) -> None:
    assert to_lisp(value) == text


@pytest.mark.parametrize(
    "value",
    [1.5, b"bytes", {"a": 1}, {1, 2}, object(), Keyword(""), Keyword("a b"), Keyword("a(b")],
)
def test_to_lisp_refuses_what_lisp_text_cannot_carry(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot be written as Lisp text"):
        to_lisp(value)


def test_to_lisp_of_an_unreadable_keyword_name_refuses_rather_than_writing_bad_text() -> None:
    for name in ["", "a b", 'a"b', "a;b", "a'b", "a)b", "tab\there"]:
        with pytest.raises(TypeError):
            to_lisp(Keyword(name))


# --------------------------------------------------------------------------- properties

_KEYWORD_CHARS = st.characters(
    blacklist_characters="()\"';", blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")
)
keywords = st.text(_KEYWORD_CHARS, min_size=1, max_size=12).map(Keyword).filter(lambda k: k.name)
atoms = (
    st.text()
    | st.text(alphabet="\"\\ ;()'.:\n\tabc")
    | st.integers()
    | keywords
    | st.just(True)
    | st.just(None)
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # An empty list reads back as None (nil), so lists here are never empty.
    return st.lists(children, min_size=1, max_size=5) | st.tuples(children, children)


lisp_values = st.recursive(atoms, _extend, max_leaves=25)


@given(lisp_values)
@example("")
@example('"')
@example("\\")
@example('\\"')
@example('a"b\\c')
@example("Grüße ☃ \U0001f600")
@example(Keyword("ca_file"))
@example(Keyword("::x"))
@example(Keyword("İ"))
@example(("mail.corp", 2525))
@example((1, [2, 3]))
@example((1, (2, 3)))
@example(((1, 2), None))
@example([None, True, [None]])
@example(["mail.corp", Keyword("port"), 587, Keyword("starttls"), True])
def test_to_lisp_round_trips(value: Any) -> None:
    assert read_lisp(to_lisp(value)) == value


@given(lisp_values)
def test_written_lisp_survives_quotes_comments_and_white_space(value: Any) -> None:
    text = to_lisp(value)
    assert read_lisp(f"  ; a comment\n'{text}\n; the end") == value


@given(st.text(min_size=0, max_size=15))
@example("")
@example(" ")
@example("İ")
@example("a b")
def test_to_lisp_of_any_keyword_either_refuses_or_round_trips(name: str) -> None:
    kw = Keyword(name)
    try:
        text = to_lisp(kw)
    except TypeError:
        return
    assert read_lisp(text) == kw


_LISPY = st.text(alphabet=st.sampled_from(list("()\"\\';:. \n\t-+0123456789tnilTNax#|")))


@given(st.text() | _LISPY)
@example("(")
@example(")")
@example('"')
@example("'")
@example(":")
@example(".")
@example("(.)")
@example("(1 . )")
@example("(1 . 2 . 3)")
@example("9" * 5000)
@example("(" * 5000)
@example("'" * 5000)
@example("(;)")
@example('"\\')
def test_any_text_reads_or_raises_lisp_syntax_error(text: str) -> None:
    try:
        value = read_lisp(text)
    except LispSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        assert f"position {exc.position}" in str(exc)
        return
    # Whatever reads is canonical data: written back, it reads the same.
    assert read_lisp(to_lisp(value)) == value


def _nested(depth: int) -> Tuple[str, Any]:
    text, value = "1", 1
    for _ in range(depth):
        text, value = f"({text})", [value]
    return text, value


@given(st.integers(min_value=0, max_value=99))
def test_nesting_up_to_the_limit_reads(depth: int) -> None:
    text, value = _nested(depth)
    assert read_lisp(text) == value


def test_printable_ascii_keywords_round_trip() -> None:
    for ch in string.ascii_letters + string.digits + "-_+*/.!?<>=&%$@^~:":
        kw = Keyword("k" + ch)
        assert read_lisp(to_lisp(kw)) == kw
