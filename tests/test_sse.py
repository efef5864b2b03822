"""The incremental SSE decoder against the WHATWG event-stream rules.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from otel_llm._config import Timeout
from otel_llm._exceptions import ProviderError
from otel_llm._sse import SSEDecoder
from otel_llm._stream_session import StreamSession
from otel_llm._types import ChatRequest, Message, Route, StreamEvent
from otel_llm.providers._base import Endpoint
from otel_llm.providers.openai import OpenAIChat
from tests.wire import sse as wire_sse


def decode(*chunks: bytes) -> list[StreamEvent]:
    decoder = SSEDecoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def decode_pieces(raw: bytes, cuts: Iterable[int]) -> list[StreamEvent]:
    """Decode `raw` cut at the given offsets."""
    bounds = [0, *cuts, len(raw)]
    return decode(*(raw[a:b] for a, b in itertools.pairwise(bounds)))


# --- field parsing ---------------------------------------------------------------------------------


def test_single_event() -> None:
    assert decode(b'data: {"a": 1}\n\n') == [StreamEvent(data='{"a": 1}')]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b"data: first\ndata: second\ndata:third\n\n") == [StreamEvent(data="first\nsecond\nthird")]


def test_empty_data_lines_are_kept() -> None:
    assert decode(b"data: a\ndata:\ndata: b\n\n") == [StreamEvent(data="a\n\nb")]


def test_event_field_sets_the_type() -> None:
    raw = b'event: message_start\ndata: {"type": "message_start"}\n\n'

    assert decode(raw) == [StreamEvent(data='{"type": "message_start"}', event="message_start")]


def test_event_type_applies_to_one_event_only() -> None:
    raw = b"event: ping\ndata: 1\n\ndata: 2\n\n"

    assert decode(raw) == [StreamEvent(data="1", event="ping"), StreamEvent(data="2")]


def test_event_field_may_follow_data() -> None:
    assert decode(b"data: x\nevent: error\n\n") == [StreamEvent(data="x", event="error")]


def test_event_type_without_data_is_dropped_at_the_blank_line() -> None:
    # An event block without data is not dispatched, and its type does not leak into the next one.
    assert decode(b"event: ping\n\ndata: 2\n\n") == [StreamEvent(data="2")]


def test_comments_are_skipped() -> None:
    raw = b": keep-alive\n\n:\n\ndata: a\n: inside an event\ndata: b\n\n: OPENROUTER PROCESSING\n\n"

    assert decode(raw) == [StreamEvent(data="a\nb")]


def test_blank_lines_alone_dispatch_nothing() -> None:
    assert decode(b"\n\n\n\r\n\r\r") == []


def test_one_leading_space_is_stripped_once() -> None:
    raw = b"data:  two spaces\n\ndata:no space\n\ndata: trailing \n\n"

    assert decode(raw) == [
        StreamEvent(data=" two spaces"),
        StreamEvent(data="no space"),
        StreamEvent(data="trailing "),
    ]


def test_tab_after_colon_is_kept() -> None:
    assert decode(b"data:\tvalue\n\n") == [StreamEvent(data="\tvalue")]


def test_only_the_first_colon_separates_the_field() -> None:
    assert decode(b'data: {"url": "https://example.com:443/"}\n\n') == [
        StreamEvent(data='{"url": "https://example.com:443/"}')
    ]


def test_field_without_colon_has_an_empty_value() -> None:
    # "data" on its own line is the field `data` with the value "".
    assert decode(b"data\ndata: x\n\n") == [StreamEvent(data="\nx")]
    assert decode(b"data\n\n") == [StreamEvent(data="")]


def test_unknown_and_ignored_fields() -> None:
    raw = b"id: 42\nretry: 1000\nfoo: bar\nDATA: upper\ndata: kept\n\n"

    assert decode(raw) == [StreamEvent(data="kept")]


def test_field_names_are_case_sensitive() -> None:
    assert decode(b"Data: x\nEvent: y\n\n") == []


# --- line endings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_line_endings(newline: bytes) -> None:
    # With CR framing the final blank line is a lone CR: complete on arrival, it must dispatch at once
    # rather than wait for a LF that never comes.
    raw = newline.join([b"event: a", b"data: 1", b"data: 2", b"", b": c", b"", b"data: 3", b"", b""])

    assert decode(raw) == [StreamEvent(data="1\n2", event="a"), StreamEvent(data="3")]


def test_mixed_line_endings() -> None:
    raw = b"data: 1\r\ndata: 2\rdata: 3\n\r\ndata: 4\r\rdata: 5\n\n"

    assert decode(raw) == [StreamEvent(data="1\n2\n3"), StreamEvent(data="4"), StreamEvent(data="5")]


def test_crlf_split_between_cr_and_lf_is_one_line_ending() -> None:
    assert decode(b"data: a\r", b"\n", b"\r", b"\ndata: b\r\n\r\n") == [
        StreamEvent(data="a"),
        StreamEvent(data="b"),
    ]


# --- encoding --------------------------------------------------------------------------------------


def test_utf8_text() -> None:
    assert decode("data: héllo ✓ 🎉 日本\n\n".encode()) == [StreamEvent(data="héllo ✓ 🎉 日本")]


def test_multi_byte_character_split_across_chunks() -> None:
    emoji = "🎉".encode()
    assert len(emoji) == 4

    for cut in range(1, 4):
        events = decode(b"data: " + emoji[:cut], emoji[cut:] + b"\n\n")
        assert events == [StreamEvent(data="🎉")], cut


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: a\xffb\n\n") == [StreamEvent(data="a\ufffdb")]


def test_leading_byte_order_mark_is_stripped() -> None:
    # WHATWG decodes the stream with "UTF-8 decode", which drops one leading BOM.
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [StreamEvent(data="a")]


# --- end of stream ---------------------------------------------------------------------------------


def test_partial_event_is_not_dispatched() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: a\n\ndata: b\n") == [StreamEvent(data="a")]
    assert decoder.feed(b"data: c") == []


def test_partial_event_completes_when_the_rest_arrives() -> None:
    decoder = SSEDecoder()

    assert decoder.feed(b"data: b\n") == []
    assert decoder.feed(b"\n") == [StreamEvent(data="b")]


def test_empty_feed_returns_nothing() -> None:
    assert decode(b"", b"") == []


# --- arbitrary chunking ----------------------------------------------------------------------------

# A stream with every feature above: LF and CRLF framing, comments, event types, multi-line data,
# multi-byte characters (2, 3 and 4 bytes), a field without colon and a trailing partial event.
STREAM = (
    b": keep-alive\n\n"
    b"event: message_start\n"
    b'data: {"type": "message_start"}\n\n'
    + 'data: {"text": "caf\u00e9 \u2713 \U0001f389"}\r\n\r\n'.encode()
    + b"data: line one\r\n"
    b"data:line two\r\n"
    b"data\r\n"
    b"\r\n"
    b": ping\n"
    b"event: error\n"
    b'data: {"type": "error"}\n\n'
    b"data: [DONE]\n\n"
    b"data: partial"
)


def expected_stream_events() -> list[StreamEvent]:
    return [
        StreamEvent(data='{"type": "message_start"}', event="message_start"),
        StreamEvent(data='{"text": "caf\u00e9 \u2713 \U0001f389"}'),
        StreamEvent(data="line one\nline two\n"),
        StreamEvent(data='{"type": "error"}', event="error"),
        StreamEvent(data="[DONE]"),
    ]


def test_whole_stream() -> None:
    assert decode(STREAM) == expected_stream_events()


def test_stream_split_at_every_byte_boundary() -> None:
    expected = expected_stream_events()

    for cut in range(len(STREAM) + 1):
        assert decode_pieces(STREAM, [cut]) == expected, f"split at byte {cut}: {STREAM[:cut]!r}"


def test_stream_split_at_every_pair_of_boundaries_near_crlf_and_utf8() -> None:
    expected = expected_stream_events()
    start = STREAM.index(b'data: {"text"')
    end = STREAM.index(b"data: line one")

    for first in range(start, end):
        for second in range(first, end + 1):
            assert decode_pieces(STREAM, [first, second]) == expected, (first, second)


def test_stream_one_byte_at_a_time() -> None:
    assert decode(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == expected_stream_events()


@pytest.mark.parametrize("size", [2, 3, 5, 7, 16, 64])
def test_stream_in_fixed_size_chunks(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]

    assert decode(*chunks) == expected_stream_events()


# --- a stream session over the decoder: an error event ends the stream, after what came before it ---


def session() -> StreamSession:
    provider = OpenAIChat(Endpoint("openai", "https://api.openai.com/v1", "k", "openai"))
    request = ChatRequest(model="m", messages=(Message("user", "hi"),), stream=True)
    return StreamSession(provider, request, Route("openai", "m"), 200, clock=lambda: 0.0, timeout=Timeout())


def text(content: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": content}}]}


ERROR: dict[str, object] = {"error": {"message": "boom", "type": "server_error"}}


@pytest.mark.parametrize("then", ["feed", "check_complete"])
def test_chunks_sharing_a_read_with_an_error_event_are_returned_before_it_is_raised(then: str) -> None:
    stream = session()
    assert [c.delta for c in stream.feed(wire_sse(text("alpha")))] == ["alpha"]

    assert [c.delta for c in stream.feed(wire_sse(text(" beta"), ERROR, text(" never")))] == [" beta"]
    with pytest.raises(ProviderError, match="boom") as caught:
        stream.feed(b"") if then == "feed" else stream.check_complete()
    assert caught.value.kind == "server_error"
    assert stream.text == "alpha beta"  # nothing after the error event is taken in


def test_an_error_event_alone_in_its_read_is_raised_at_once() -> None:
    stream = session()
    stream.feed(wire_sse(text("alpha")))
    with pytest.raises(ProviderError, match="boom"):
        stream.feed(wire_sse(ERROR))
