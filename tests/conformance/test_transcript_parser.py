"""Unit tests for the transcript parser (transcripts/README.md sections 2.1-2.4 and 2.8 syntax).

Pure and fast: no modem, no sockets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim800emu.transcript.language import (
    DEFAULT_TIMEOUT,
    Accept,
    Close,
    Connect,
    Control,
    Expect,
    ExpectSilence,
    Listen,
    Marker,
    PeerSend,
    Read,
    ReadLine,
    ReadRegex,
    ReservePort,
    Step,
    StepError,
    Transcript,
    TranscriptSyntaxError,
    Wait,
    Write,
    load,
    parse,
    substitute,
    unescape,
)

TRANSCRIPTS = Path(__file__).parent / "transcripts"


def one(text: str) -> Step:
    """Parse a single-step transcript and return its step."""
    transcript = parse(text, "t.txt")
    assert len(transcript.steps) == 1, transcript.steps
    return transcript.steps[0]


# --------------------------------------------------------------------------- 2.1 lines


class TestLines:
    def test_blank_and_comment_lines_are_ignored(self) -> None:
        t = parse("\n   \n\t\n# a comment\n   # indented comment\n> AT\n\n", "t.txt")
        assert [(s.line, s.marker, s.arg) for s in t.steps] == [(6, Marker.WRITE_LINE, "AT")]

    def test_line_numbers_count_every_line(self) -> None:
        t = parse("# c\n> AT\n\n< OK\n# x\n<< \\r\\n\n", "t.txt")
        assert [s.line for s in t.steps] == [2, 4, 6]
        assert t.steps[1].where == "t.txt:4"

    @pytest.mark.parametrize(
        ("line", "marker", "arg"),
        [
            (">> x", Marker.WRITE_RAW, "x"),
            ("> x", Marker.WRITE_LINE, "x"),
            ("<~ x", Marker.READ_REGEX, "x"),
            ("<> x", Marker.READ_SKIP, "x"),
            ("<< x", Marker.READ_EXACT, "x"),
            ("<! 0.5", Marker.SILENCE, "0.5"),
            ("< x", Marker.READ_LINE, "x"),
            ("~ 1", Marker.WAIT, "1"),
            ("@ port P", Marker.PEER, "port P"),
        ],
    )
    def test_each_marker(self, line: str, marker: Marker, arg: str) -> None:
        step = one(line)
        assert (step.marker, step.arg) == (marker, arg)
        assert step.source == line

    @pytest.mark.parametrize(
        ("line", "marker", "arg"),
        [
            ("> >x", Marker.WRITE_LINE, ">x"),  # '>' then space: a '>' step
            (">> >x", Marker.WRITE_RAW, ">x"),
            ("< <x", Marker.READ_LINE, "<x"),
            ("< ~x", Marker.READ_LINE, "~x"),
            ("< !x", Marker.READ_LINE, "!x"),
            ("<< <x", Marker.READ_EXACT, "<x"),
            ("> > ", Marker.WRITE_LINE, "> "),
            ("<< \\r\\n> ", Marker.READ_EXACT, "\\r\\n> "),
        ],
    )
    def test_marker_precedence(self, line: str, marker: Marker, arg: str) -> None:
        step = one(line)
        assert (step.marker, step.arg) == (marker, arg)

    def test_argument_is_literal_with_leading_and_trailing_spaces(self) -> None:
        assert one(">  two leading").arg == " two leading"
        assert one("< trailing  ").arg == "trailing  "
        assert one("<< \\r\\n> ").resolve({}) == Read(b"\r\n> ", skip_line_ends=False)
        assert one("> ").arg == ""

    def test_no_trailing_comments(self) -> None:
        assert one("< OK # not a comment").resolve({}) == ReadLine(b"OK # not a comment")

    @pytest.mark.parametrize(
        "line",
        [">>x", ">x", "<OK", "<<x", "~1", "@port P", " > AT", "\t< OK", "X AT", "<", ">>", "OK"],
    )
    def test_not_a_step_is_a_syntax_error(self, line: str) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"^t\.txt:2: not a step"):
            parse(f"# first line\n{line}\n", "t.txt")

    def test_one_character_is_one_byte_latin1(self) -> None:
        assert one("< caf\xe9").resolve({}) == ReadLine(b"caf\xe9")
        assert one("> \xff").resolve({}) == Write(b"\xff\r")

    def test_load_reads_bytes_as_latin1(self, tmp_path: Path) -> None:
        path = tmp_path / "x.txt"
        path.write_bytes(b"# timeout: 3\n< \xe9\n")
        t = load(path)
        assert t.path == str(path)
        assert t.timeout == 3
        assert t.steps[0].resolve({}) == ReadLine(b"\xe9")

    def test_cr_in_file_is_rejected(self) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"t\.txt:1: CR byte"):
            parse("> AT\r\n< OK\n", "t.txt")

    def test_last_line_without_lf(self) -> None:
        assert parse("> AT\n< OK", "t.txt").steps[-1].arg == "OK"

    def test_empty_file(self) -> None:
        assert parse("", "t.txt") == Transcript("t.txt", (), DEFAULT_TIMEOUT)


# --------------------------------------------------------------------------- 2.2 directives


class TestTimeout:
    def test_default_is_five_seconds(self) -> None:
        assert parse("> AT\n").timeout == 5.0 == DEFAULT_TIMEOUT

    @pytest.mark.parametrize(
        ("line", "value"),
        [
            ("# timeout: 10", 10.0),
            ("#timeout:7", 7.0),
            ("#  \ttimeout: \t 3", 3.0),
            ("# timeout: 2.5", 2.5),
            ("# timeout: 4 seconds per step", 4.0),
        ],
    )
    def test_directive(self, line: str, value: float) -> None:
        assert parse(f"{line}\n> AT\n").timeout == value

    @pytest.mark.parametrize(
        "line",
        [
            " # timeout: 10",  # not column 1
            "# Timeout: 10",
            "# the timeout: 10",
            "# timeout: ten",
            "# timeout:",
        ],
    )
    def test_not_a_directive(self, line: str) -> None:
        assert parse(f"{line}\n> AT\n").timeout == DEFAULT_TIMEOUT

    def test_applies_wherever_it_appears_and_last_one_counts(self) -> None:
        t = parse("> AT\n# timeout: 1\n< OK\n# timeout: 9\n< OK\n")
        assert t.timeout == 9.0

    def test_decided_and_spec_comments_are_ordinary_comments(self) -> None:
        t = parse("# decided: x\n# SPEC: y\n> AT\n")
        assert len(t.steps) == 1


# --------------------------------------------------------------------------- 2.3 variables


class TestVariables:
    def test_substitute_only_defined_names(self) -> None:
        assert substitute("a{S}b{T}c", {"S": "1234"}) == "a1234b{T}c"

    def test_regex_quantifier_left_alone(self) -> None:
        step = one(r"<~ \d{15}")
        action = step.resolve({"S": "1"})
        assert isinstance(action, ReadRegex)
        assert action.pattern.pattern == rb"\d{15}"
        assert action.pattern.fullmatch(b"123456789012345")

    def test_names_are_case_sensitive(self) -> None:
        assert substitute("{s}{S}", {"S": "9"}) == "{s}9"

    def test_single_pass(self) -> None:
        assert substitute("{A}", {"A": "{B}", "B": "x"}) == "{B}"

    @pytest.mark.parametrize(
        ("line", "action"),
        [
            ("> AT+CIPSTART={S}", Write(b"AT+CIPSTART=40000\r")),
            (">> {S}\\r\\n", Write(b"40000\r\n")),
            ('< S: 0,0,"{S}"', ReadLine(b'S: 0,0,"40000"')),
            ("<< {S}", Read(b"40000", skip_line_ends=False)),
            ("<> {S}", Read(b"40000", skip_line_ends=True)),
            ("@ connect tcp C {S}", Connect("tcp", "C", 40000)),
            ("@ S send port {S}", PeerSend("S", b"port 40000")),
            ("@ S expect {S}!", Expect("S", b"40000!")),
        ],
    )
    def test_substituted_everywhere_in_the_line(self, line: str, action: object) -> None:
        t = parse(f"@ listen tcp S\n{line}\n")
        step = t.steps[1]
        assert step.resolve({"S": "40000"}) == action
        assert step.resolved_source({"S": "40000"}) == line.replace("{S}", "40000")

    def test_substituted_inside_regex(self) -> None:
        t = parse('@ port P\n<~ S: "{P}",\\d+\n')
        action = t.steps[1].resolve({"P": "5000"})
        assert isinstance(action, ReadRegex)
        assert action.pattern.fullmatch(b'S: "5000",12')

    def test_substitution_happens_before_unescaping(self) -> None:
        assert one(">> \\{X}").resolve({"X": "n"}) == Write(b"\n")
        assert one(">> \\{X}").resolve({"X": "x41"}) == Write(b"A")

    def test_undefined_variable_text_stays(self) -> None:
        assert one("< {NOPE}").resolve({}) == ReadLine(b"{NOPE}")

    def test_variables_defined_by_listen_echo_port(self) -> None:
        t = parse(
            "@ listen tcp A\n@ echo udp B\n@ port C\n@ connect tcp D {A}\n@ connect udp E {C}\n"
        )
        assert [type(s.resolve({})).__name__ for s in t.steps[:3]] == [
            "Listen",
            "Listen",
            "ReservePort",
        ]


# --------------------------------------------------------------------------- 2.4 escapes


class TestEscapes:
    @pytest.mark.parametrize(
        ("text", "data"),
        [
            (r"\r", b"\r"),
            (r"\n", b"\n"),
            (r"\\", b"\\"),
            (r"\x1a", b"\x1a"),
            (r"\x1A", b"\x1a"),
            (r"\xff\x00", b"\xff\x00"),
            (r"\d", b"\\d"),  # unknown escape kept, with its character
            (r"\t", b"\\t"),
            (r"\x4", b"\\x4"),  # needs exactly two hex digits
            (r"\x4g", b"\\x4g"),
            (r"\x414", b"A4"),
            (r"\\x41", b"\\x41"),
            (r"\\\x41", b"\\A"),
            (r"\\n", b"\\n"),
            ("a\\", b"a\\"),  # trailing backslash kept
            (r"\q\n", b"\\q\n"),
            (r"\r\n> ", b"\r\n> "),
        ],
    )
    def test_unescape(self, text: str, data: bytes) -> None:
        assert unescape(text) == data

    @pytest.mark.parametrize(
        ("line", "action"),
        [
            (r">> a\r\n", Write(b"a\r\n")),
            (r"<< a\r\n", Read(b"a\r\n", skip_line_ends=False)),
            (r"<> a\x00", Read(b"a\x00", skip_line_ends=True)),
            (r"@ S send a\x1ab", PeerSend("S", b"a\x1ab")),
            (r"@ S expect \\\r", Expect("S", b"\\\r")),
        ],
    )
    def test_unescaped_kinds(self, line: str, action: object) -> None:
        t = parse(f"@ listen tcp S\n{line}\n")
        assert t.steps[1].resolve({}) == action

    @pytest.mark.parametrize(
        ("line", "action"),
        [
            (r"> a\r", Write(b"a\\r\r")),  # only the CR that '>' appends
            (r"< a\r\n\x41", ReadLine(b"a\\r\\n\\x41")),
        ],
    )
    def test_not_unescaped_kinds(self, line: str, action: object) -> None:
        assert one(line).resolve({}) == action

    def test_regex_uses_its_own_escapes(self) -> None:
        action = one(r"<~ \d+\.\d+\.\d+\.\d+").resolve({})
        assert isinstance(action, ReadRegex)
        assert action.pattern.pattern == rb"\d+\.\d+\.\d+\.\d+"
        assert action.pattern.fullmatch(b"10.1.2.3")
        assert not action.pattern.fullmatch(b"10.1.2.3x")

    def test_peer_words_are_not_unescaped(self) -> None:
        # Only the TEXT of send/expect is unescaped; a name is literal.
        assert parse("@ listen tcp A\\x41\n@ A\\x41 accept\n").steps[1].resolve({}) == Accept(
            "A\\x41"
        )


# --------------------------------------------------------------------------- step arguments


class TestStepArguments:
    def test_write_line_appends_cr_only(self) -> None:
        assert one("> ATE0").resolve({}) == Write(b"ATE0\r")

    def test_write_raw_appends_nothing(self) -> None:
        assert one(">> ATE0").resolve({}) == Write(b"ATE0")

    @pytest.mark.parametrize(("text", "seconds"), [("0.5", 0.5), ("1", 1.0), (".25", 0.25)])
    def test_seconds(self, text: str, seconds: float) -> None:
        assert one(f"<! {text}").resolve({}) == ExpectSilence(seconds)
        assert one(f"~ {text}").resolve({}) == Wait(seconds)

    @pytest.mark.parametrize("text", ["", "x", "-1", "1e3", " 1", "1 ", "1.", "0x10"])
    def test_bad_seconds(self, text: str) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"t\.txt:1: .*decimal number"):
            parse(f"~ {text}\n", "t.txt")

    def test_bad_regex_is_a_syntax_error(self) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"t\.txt:1: invalid regular expression"):
            parse("<~ (\n", "t.txt")

    def test_resolve_raises_step_error(self) -> None:
        step = Step("t.txt", 3, Marker.WAIT, "{X}")
        with pytest.raises(StepError):
            step.resolve({})
        assert step.resolve({"X": "2"}) == Wait(2.0)


# --------------------------------------------------------------------------- 2.8 '@' syntax


class TestPeerSyntax:
    def test_all_forms(self) -> None:
        t = parse(
            "\n".join(
                [
                    "@ listen tcp S",
                    "@ listen udp U",
                    "@ echo tcp E",
                    "@ echo udp F",
                    "@ port P",
                    "@ connect tcp C {P}",
                    "@ connect udp D 9",
                    "@ S accept",
                    "@ S send hello world ",
                    "@ S expect  x",
                    "@ S close",
                ]
            )
        )
        assert [s.resolve({"P": "8"}) for s in t.steps] == [
            Listen("tcp", "S", echo=False),
            Listen("udp", "U", echo=False),
            Listen("tcp", "E", echo=True),
            Listen("udp", "F", echo=True),
            ReservePort("P"),
            Connect("tcp", "C", 8),
            Connect("udp", "D", 9),
            Accept("S"),
            PeerSend("S", b"hello world "),  # text literal, trailing space kept
            Expect("S", b" x"),
            Close("S"),
        ]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("@ listen tcp", "expected '@ listen"),
            ("@ listen  tcp S", "expected '@ listen tcp|udp NAME'"),
            ("@ listen sctp S", "expected 'tcp' or 'udp'"),
            ("@ echo tcp S x", "expected '@ echo"),
            ("@ port", "expected '@ port NAME'"),
            ("@ connect tcp C", "expected '@ connect"),
            ("@ connect tcp C x", "expected a port number"),
            ("@ connect tcp C {Q}", "expected a port number"),
            ("@ connect tcp C 70000", "out of range"),
            ("@ listen tcp listen", "cannot be a peer name"),
            ("@ S", "expected '@ NAME"),
            ("@ S frob", "unknown peer operation"),
            ("@ S accept now", "takes nothing"),
            ("@ S send", "one space after 'send'"),
            ("@ T accept", "'T' is used before it is created"),
            ("@ listen tcp S", "peer 'S' already exists"),
            ("@ port S", r"variable \{S\} is already defined"),
        ],
    )
    def test_errors_name_file_and_line(self, text: str, message: str) -> None:
        with pytest.raises(TranscriptSyntaxError) as info:
            parse(f"@ listen tcp S\n{text}\n", "x/t.txt")
        assert str(info.value).startswith("x/t.txt:2: ")
        assert re.search(message, str(info.value)), str(info.value)

    def test_peer_used_before_created(self) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"t\.txt:1: peer 'S' is used before"):
            parse("@ S accept\n@ listen tcp S\n", "t.txt")

    def test_empty_send_and_expect_text(self) -> None:
        t = parse("@ listen tcp S\n@ S send \n@ S expect \n")
        assert [s.resolve({}) for s in t.steps[1:]] == [PeerSend("S", b""), Expect("S", b"")]


# --------------------------------------------------------------------------- shipped files


def _shipped() -> list[Path]:
    return sorted(TRANSCRIPTS.glob("*.txt"))


def test_transcripts_are_present() -> None:
    assert len(_shipped()) >= 40
    assert (TRANSCRIPTS / "README.md").is_file()


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_shipped_transcript_parses(path: Path) -> None:
    transcript = load(path)
    assert transcript.steps
    assert transcript.timeout == 10.0
    assert path.read_bytes().isascii()


# --------------------------------------------------------------------------- 2.2 '# serve:', 2.9 '@ ctl'


class TestServeAndControl:
    def test_serve_directives_add_up_in_order(self) -> None:
        t = parse(
            '# serve: --ussd "*100#=Balance 5.00" --dial 123=busy\n'
            "#serve:--cold-boot\n"
            "> AT\n"
        )
        assert t.serve_options == ("--ussd", "*100#=Balance 5.00", "--dial", "123=busy",
                                   "--cold-boot")
        assert parse("> AT\n").serve_options == ()

    def test_bad_serve_quotes_are_a_syntax_error(self) -> None:
        with pytest.raises(TranscriptSyntaxError, match=r"t\.txt:2: bad serve options"):
            parse('> AT\n# serve: --ussd "*100#\n', "t.txt")

    def test_ctl_step(self) -> None:
        t = parse("@ ctl ring +4915112345678\n@ ctl hangup\n")
        assert [s.resolve({}) for s in t.steps] == [
            Control("ring +4915112345678"),
            Control("hangup"),
        ]
        assert t.uses_control
        assert not parse("@ listen tcp S\n").uses_control

    @pytest.mark.parametrize(("text", "message"), [("@ ctl", "expected '@ ctl COMMAND'"),
                                                   ("@ ctl  ", "expected '@ ctl COMMAND'"),
                                                   ("@ listen tcp ctl", "cannot be a peer name")])
    def test_ctl_errors(self, text: str, message: str) -> None:
        with pytest.raises(TranscriptSyntaxError, match=message):
            parse(text + "\n")
