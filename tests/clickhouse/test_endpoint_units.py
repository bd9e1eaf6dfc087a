"""The endpoint's pure parts: ClickHouse's error text, HTTP encodings, the syntax-tree reader, classification
of clickhouse-connect's failures."""

from __future__ import annotations

import gzip
import zlib

import lz4.frame
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError, ProgrammingError

from llmpulse.clickhouse.http import codecs
from llmpulse.clickhouse.http.errors import ClickHouseError
from llmpulse.clickhouse.http.sql import escape_param, parse_tree
from llmpulse.clickhouse.server_store import is_unavailable


def test_engine_errors_keep_clickhouse_text_code_and_status() -> None:
    nested = ("Code: 164. DB::Exception: Code: 164. DB::Exception: Cannot modify 'readonly' setting in readonly "
              "mode. (READONLY) (version 26.9.2.1). (READONLY)")  # fmt: skip
    err = ClickHouseError.from_engine(RuntimeError(nested))
    assert (err.code, err.name, err.http_status) == (164, "READONLY", 403)
    expected = "Code: 164. DB::Exception: Cannot modify 'readonly' setting in readonly mode. (READONLY)"
    assert err.text().startswith(expected)
    syntax = ClickHouseError.from_engine(RuntimeError("Code: 62. DB::Exception: Syntax error: failed at position 1. "
                                                      "(SYNTAX_ERROR)"))  # fmt: skip
    assert (syntax.code, syntax.http_status) == (62, 400)
    unknown = ClickHouseError.from_engine(RuntimeError("Code: 60. DB::Exception: Unknown table. (UNKNOWN_TABLE)"))
    assert unknown.http_status == 404
    assert ClickHouseError.from_engine(RuntimeError("no code here")).code == 1002


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "lz4", "xz", "bz2", "snappy"])
def test_codecs_round_trip(encoding: str) -> None:
    data = b"llmpulse " * 1000
    assert codecs.decode(codecs.encode(data, encoding), encoding) == data


def test_codecs_speak_the_standard_formats() -> None:
    data = b"x" * 5000
    assert gzip.decompress(codecs.encode(data, "gzip")) == data
    assert zlib.decompress(codecs.encode(data, "deflate")) == data
    assert lz4.frame.decompress(codecs.encode(data, "lz4")) == data
    assert codecs.choose("identity, br;q=0.9, gzip") == "br" and codecs.choose("identity") is None
    with pytest.raises(codecs.UnknownEncoding):
        codecs.decode(b"x", "compress")


def test_parse_tree_and_params() -> None:
    tree = parse_tree("SelectWithUnionQuery (children 1)\n ExpressionList (children 1)\n  SelectQuery (children 2)\n"
                      "   ExpressionList (children 1)\n    Function file (alias f) (children 1)\n"
                      "     ExpressionList (children 1)\n      Literal 'x'\n   TablesInSelectQuery (children 1)\n"
                      "    TablesInSelectQueryElement (children 1)\n     TableExpression (children 1)\n"
                      "      TableIdentifier system.one\n")  # fmt: skip
    kinds = [(n.kind, n.arg, p.kind if p else None) for n, p in tree.walk()]
    assert ("Function", "file", "ExpressionList") in kinds
    assert ("TableIdentifier", "system.one", "TableExpression") in kinds
    assert escape_param("a\\b\tc\nd") == "a\\\\b\\tc\\nd"


def test_failures_are_told_apart() -> None:
    assert is_unavailable(OperationalError("Network Error"))
    assert is_unavailable(DatabaseError("HTTP driver received HTTP status 503, server response: busy"))
    assert is_unavailable(DatabaseError("HTTP driver received HTTP status 429"))
    assert not is_unavailable(DatabaseError("HTTP driver received HTTP status 400"))
    assert is_unavailable(DatabaseError("Received ClickHouse exception, code: 252", code=252))  # TOO_MANY_PARTS
    assert is_unavailable(DatabaseError("Received ClickHouse exception, code: 516", code=516))  # credentials
    assert not is_unavailable(DatabaseError("Received ClickHouse exception, code: 27", code=27))  # bad data
    assert not is_unavailable(ProgrammingError("Setting optimize_on_insert is readonly"))
