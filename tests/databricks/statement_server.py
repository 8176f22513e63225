#!/usr/bin/env python3
"""A local stand-in for the Databricks SQL Statement Execution API 2.0.

It runs the SQL it receives on real Apache Spark (pyspark, local mode) and
answers with the documented JSON shapes, so the Rust client in
api/src/warehouse/databricks/ can be tested end to end. Fault knobs per
warehouse (starting warehouse, slow statements, small chunks, expiring links,
429/503 with Retry-After, failing statements) are set through /_test/...
control endpoints. See tests/databricks/README.md for the full contract.

    python3 tests/databricks/statement_server.py [--port 0]

Prints exactly one line `listening http://127.0.0.1:PORT` on stdout once Spark
is up and the socket listens; logs go to stderr. Exits (stopping Spark) when
stdin reaches EOF, or on SIGTERM/SIGINT.
"""

import argparse
import base64
import csv
import datetime as dt
import decimal
import io
import json
import logging
import os
import re
import secrets
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# Before the JVM starts: every zone Spark or Python may fall back to is UTC,
# and Spark binds to loopback only.
os.environ["TZ"] = "UTC"
time.tzset()
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"

# stdout carries exactly one line (the listening line). Anything else that
# writes to fd 1 (the JVM, pyspark) goes to stderr instead.
_REAL_STDOUT = os.dup(1)
os.dup2(2, 1)

import pyarrow as pa  # noqa: E402

START = time.monotonic()
UTC = dt.timezone.utc
INLINE_LIMIT_BYTES = 25 * 1024 * 1024  # documented INLINE cap: 25 MiB
WAIT_RE = re.compile(r"^(\d+)s$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

def eprint(msg):
    sys.stderr.write(f"[statement_server {time.monotonic() - START:7.2f}s] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An HTTP error answer: status, JSON body, extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def api_error(status, code, message, headers=None):
    return ApiError(status, {"error_code": code, "message": message}, headers)


def bad_param(message):
    return api_error(400, "INVALID_PARAMETER_VALUE", message)


class StatementFailure(Exception):
    """A statement that ends FAILED (HTTP 200, status.error)."""

    def __init__(self, message, sql_state=None, code="BAD_REQUEST"):
        super().__init__(message)
        self.message = message
        self.sql_state = sql_state
        self.code = code


# --------------------------------------------------------------------------
# Shared state (all guarded by LOCK; COND signals statement state changes)

LOCK = threading.RLock()
COND = threading.Condition(LOCK)
TOKENS = {}  # bearer token -> {"user": str, "expires_at": float | None}
OAUTH_CLIENTS = {}  # client_id -> {"secret", "user", "expires_in"}
WAREHOUSES = {}  # id -> Warehouse
STATEMENTS = {}  # id -> Statement
LINKS = {}  # token -> Link
TABLE_LOCK = threading.Lock()  # test-side DDL, one at a time

SPARK = None
BASE_URL = None

KNOB_DEFAULTS = {
    "starting_polls": 0,
    # Only this many first statements wait through starting_polls (a real
    # warehouse starts once); None: every statement does.
    "starting_statements": None,
    "run_delay_ms": 0,
    "chunk_rows": 100000,
    "link_ttl_seconds": 900,
    "link_403_first": 0,
    "throttle_429": 0,
    "unavailable_503": 0,
    "chunk_503": 0,
    "retry_after": 1,
    "fail": None,
    "inline_limit_bytes": INLINE_LIMIT_BYTES,
}


class Warehouse:
    def __init__(self, wid, knobs):
        self.id = wid
        self.knobs = knobs
        self.api_calls = 0  # calls seen by the 429/503 knobs
        self.chunk_calls_seen = 0  # chunk calls seen by chunk_503
        self.link_403_served = 0
        self.statements = 0
        self.statements_by_user = {}
        self.statement_texts = []
        self.status_polls = 0
        self.chunk_calls = 0
        self.link_downloads = 0
        self.link_downloads_with_authorization = 0
        self.cancels = 0
        self.canceled_statements = 0
        self.throttled_429 = 0
        self.unavailable_503 = 0
        self.statement_ms = []

    def counters(self):
        running = sum(
            1
            for st in STATEMENTS.values()
            if st.warehouse is self and st.state in ("PENDING", "RUNNING")
        )
        return {
            "statements": self.statements,
            "statements_by_user": dict(self.statements_by_user),
            "statement_texts": list(self.statement_texts),
            "status_polls": self.status_polls,
            "chunk_calls": self.chunk_calls,
            "link_downloads": self.link_downloads,
            "link_downloads_with_authorization": self.link_downloads_with_authorization,
            "cancels": self.cancels,
            "canceled_statements": self.canceled_statements,
            "running": running,
            "throttled": self.throttled_429 + self.unavailable_503,
            "throttled_429": self.throttled_429,
            "unavailable_503": self.unavailable_503,
            "statement_ms": list(self.statement_ms),
        }


class Chunk:
    __slots__ = ("index", "row_offset", "row_count", "rows", "data")

    def __init__(self, index, row_offset, row_count, rows=None, data=None):
        self.index = index
        self.row_offset = row_offset
        self.row_count = row_count
        self.rows = rows  # INLINE: list of rows of str/None
        self.data = data  # EXTERNAL_LINKS: bytes of the object behind the link


class Statement:
    def __init__(self, warehouse, user, req):
        self.id = str(uuid.uuid4())
        self.warehouse = warehouse
        self.user = user
        self.text = req["statement"]
        self.params = req["params"]
        self.disposition = req["disposition"]
        self.format = req["format"]
        self.catalog = req["catalog"]
        self.schema = req["schema"]
        self.row_limit = req["row_limit"]
        self.byte_limit = req["byte_limit"]
        self.state = "PENDING"
        self.error = None  # (code, message)
        self.sql_state = None
        self.polls = 0
        self.started = False
        self.spark_active = False
        self.cancel_event = threading.Event()
        self.manifest = None
        self.chunks = []

    @property
    def terminal(self):
        return self.state in ("SUCCEEDED", "FAILED", "CANCELED", "CLOSED")


class Link:
    __slots__ = ("statement", "chunk_index", "expires_at")

    def __init__(self, statement, chunk_index, expires_at):
        self.statement = statement
        self.chunk_index = chunk_index
        self.expires_at = expires_at


# --------------------------------------------------------------------------
# Small helpers


def rfc3339(ts):
    d = dt.datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def retry_after_value(knobs):
    v = knobs["retry_after"]
    return str(int(v)) if float(v).is_integer() else str(v)


def check_throttle(wh, is_chunk=False):
    """Called under LOCK for every warehouse API call (submit, status, chunk,
    cancel). Raises the 429/503 answer while the warehouse's knobs say so."""
    k = wh.knobs
    headers = {"Retry-After": retry_after_value(k)}
    wh.api_calls += 1
    n = wh.api_calls
    if n <= k["throttle_429"]:
        wh.throttled_429 += 1
        raise api_error(
            429,
            "REQUEST_LIMIT_EXCEEDED",
            "The request was throttled: too many requests. Retry later.",
            headers,
        )
    if n <= k["throttle_429"] + k["unavailable_503"]:
        wh.unavailable_503 += 1
        raise api_error(
            503,
            "TEMPORARILY_UNAVAILABLE",
            "The service is temporarily unavailable. Retry later.",
            headers,
        )
    if is_chunk:
        wh.chunk_calls_seen += 1
        if wh.chunk_calls_seen <= k["chunk_503"]:
            wh.unavailable_503 += 1
            raise api_error(
                503,
                "TEMPORARILY_UNAVAILABLE",
                "The result chunk is temporarily unavailable. Retry later.",
                headers,
            )


def authenticate(headers):
    auth = headers.get("Authorization")
    if not auth:
        raise api_error(
            401,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        )
    parts = auth.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise api_error(
            401,
            "UNAUTHENTICATED",
            "Credential was not sent or was of an unsupported type for this API.",
        )
    with LOCK:
        tok = TOKENS.get(parts[1].strip())
    if tok is None:
        raise api_error(401, "UNAUTHENTICATED", "Invalid access token.")
    if tok["expires_at"] is not None and time.time() >= tok["expires_at"]:
        raise api_error(401, "UNAUTHENTICATED", "Token is expired.")
    return tok["user"]


# --------------------------------------------------------------------------
# Parameters: {name, value, type} -> Python values bound as Spark named args

_TS_RE = re.compile(
    r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{0,9}))?)?)?)?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)
_DATE_RE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?\s*$")
_INT_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INT": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
}
_TYPE_ALIASES = {
    "STRING": "STRING",
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "BYTE": "TINYINT",
    "SMALLINT": "SMALLINT",
    "SHORT": "SMALLINT",
    "INT": "INT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "LONG": "BIGINT",
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP_LTZ": "TIMESTAMP",
    "TIMESTAMP_NTZ": "TIMESTAMP_NTZ",
    "VOID": "VOID",
}
_DECIMAL_RE = re.compile(
    r"^(?:DECIMAL|DEC|NUMERIC)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$", re.IGNORECASE
)
_STRINGISH_RE = re.compile(r"^(?:VARCHAR|CHAR)\s*\(\s*\d+\s*\)$", re.IGNORECASE)


def parse_param_type(raw):
    """-> (kind, precision, scale) or raises ApiError 400."""
    t = (raw if raw is not None else "STRING").strip()
    up = t.upper()
    if up in _TYPE_ALIASES:
        return (_TYPE_ALIASES[up], None, None)
    if _STRINGISH_RE.match(t):
        return ("STRING", None, None)
    m = _DECIMAL_RE.match(t)
    if m:
        p = int(m.group(1)) if m.group(1) else 10
        s = int(m.group(2)) if m.group(2) else 0
        if not (1 <= p <= 38) or s > p:
            raise bad_param(f"Invalid parameter type {raw!r}: decimal precision/scale out of range.")
        return ("DECIMAL", p, s)
    raise bad_param(
        f"Parameter type {raw!r} is not supported. Supported types: STRING, BOOLEAN, TINYINT, "
        "SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p,s), DATE, TIMESTAMP, TIMESTAMP_NTZ."
    )


def _cast_error(value, type_text):
    return StatementFailure(
        f"[CAST_INVALID_INPUT] The value '{value}' of the type \"STRING\" cannot be cast to "
        f'"{type_text}" because it is malformed. Correct the value as per the syntax, or change '
        "its target type. Use `try_cast` to tolerate malformed input and return NULL instead. "
        "SQLSTATE: 22018",
        "22018",
    )


def _parse_timestamp(value, type_text, ntz):
    m = _TS_RE.match(value)
    if not m:
        raise _cast_error(value, type_text)
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        micro = int((frac or "").ljust(6, "0")[:6]) if frac else 0
        naive = dt.datetime(
            int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mi or 0), int(ss or 0), micro
        )
    except ValueError:
        raise _cast_error(value, type_text)
    if ntz:
        return naive
    offset = dt.timedelta(0)
    if tz and tz.upper() not in ("Z", "UTC", "GMT"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours = int(digits[:-2]) if len(digits) > 2 else int(digits)
        minutes = int(digits[-2:]) if len(digits) > 2 else 0
        offset = sign * dt.timedelta(hours=hours, minutes=minutes)
    # The session time zone is UTC, so a value without offset is a UTC wall clock.
    # An aware datetime is converted by pyspark without consulting the local zone.
    return (naive - offset).replace(tzinfo=UTC)


def convert_param(kind, precision, scale, value):
    """String value -> Python value of the parameter's type, as CAST would."""
    if value is None or kind == "VOID":
        return None
    if kind == "STRING":
        return value
    v = value.strip()
    if kind == "BOOLEAN":
        low = v.lower()
        if low in ("t", "true", "y", "yes", "1"):
            return True
        if low in ("f", "false", "n", "no", "0"):
            return False
        raise _cast_error(value, "BOOLEAN")
    if kind in _INT_RANGES:
        if not re.match(r"^[+-]?\d+$", v):
            raise _cast_error(value, kind)
        n = int(v)
        lo, hi = _INT_RANGES[kind]
        if not lo <= n <= hi:
            raise _cast_error(value, kind)
        return n
    if kind in ("FLOAT", "DOUBLE"):
        try:
            f = float(v)
        except ValueError:
            raise _cast_error(value, kind)
        if kind == "FLOAT":
            try:
                f = struct.unpack("f", struct.pack("f", f))[0]
            except OverflowError:
                raise _cast_error(value, kind)
        return f
    if kind == "DECIMAL":
        try:
            d = decimal.Decimal(v)
        except decimal.InvalidOperation:
            raise _cast_error(value, f"DECIMAL({precision},{scale})")
        if not d.is_finite():
            raise _cast_error(value, f"DECIMAL({precision},{scale})")
        q = d.quantize(decimal.Decimal(1).scaleb(-scale), rounding=decimal.ROUND_HALF_UP)
        digits, exponent = q.as_tuple().digits, q.as_tuple().exponent
        if q != 0 and len(digits) + exponent > precision - scale:
            raise StatementFailure(
                f"[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION] {value} cannot be represented "
                f"as Decimal({precision}, {scale}). If necessary set \"spark.sql.ansi.enabled\" "
                "to \"false\" to bypass this error, and return NULL instead. SQLSTATE: 22003",
                "22003",
            )
        return q
    if kind == "DATE":
        m = _DATE_RE.match(v)
        if not m:
            raise _cast_error(value, "DATE")
        try:
            return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
        except ValueError:
            raise _cast_error(value, "DATE")
    if kind == "TIMESTAMP":
        return _parse_timestamp(v, "TIMESTAMP", ntz=False)
    if kind == "TIMESTAMP_NTZ":
        return _parse_timestamp(v, "TIMESTAMP_NTZ", ntz=True)
    raise StatementFailure(f"unsupported parameter type {kind}")  # unreachable


# --------------------------------------------------------------------------
# Spark types -> manifest columns; Arrow values -> JSON_ARRAY strings


def type_info(t):
    """Spark DataType -> (type_name, type_text, extras) as Databricks spells them."""
    from pyspark.sql import types as T

    if isinstance(t, (T.StringType, T.VarcharType, T.CharType)):
        return "STRING", "STRING", {}
    simple = [
        (T.BooleanType, "BOOLEAN", "BOOLEAN"),
        (T.ByteType, "BYTE", "TINYINT"),
        (T.ShortType, "SHORT", "SMALLINT"),
        (T.IntegerType, "INT", "INT"),
        (T.LongType, "LONG", "BIGINT"),
        (T.FloatType, "FLOAT", "FLOAT"),
        (T.DoubleType, "DOUBLE", "DOUBLE"),
        (T.DateType, "DATE", "DATE"),
        (T.TimestampNTZType, "TIMESTAMP_NTZ", "TIMESTAMP_NTZ"),
        (T.TimestampType, "TIMESTAMP", "TIMESTAMP"),
        (T.BinaryType, "BINARY", "BINARY"),
        (T.NullType, "NULL", "VOID"),
    ]
    for cls, name, text in simple:
        if type(t) is cls:
            return name, text, {}
    if isinstance(t, T.DecimalType):
        return (
            "DECIMAL",
            f"DECIMAL({t.precision},{t.scale})",
            {"type_precision": t.precision, "type_scale": t.scale},
        )
    if isinstance(t, (T.DayTimeIntervalType, T.YearMonthIntervalType)):
        text = t.simpleString().upper()  # e.g. "INTERVAL DAY TO SECOND"
        return "INTERVAL", text, {"type_interval_type": text[len("INTERVAL ") :]}
    if isinstance(t, T.ArrayType):
        return "ARRAY", type_sql(t), {}
    if isinstance(t, T.MapType):
        return "MAP", type_sql(t), {}
    if isinstance(t, T.StructType):
        return "STRUCT", type_sql(t), {}
    return "USER_DEFINED_TYPE", t.simpleString().upper(), {}


def type_sql(t):
    from pyspark.sql import types as T

    if isinstance(t, T.ArrayType):
        return f"ARRAY<{type_sql(t.elementType)}>"
    if isinstance(t, T.MapType):
        return f"MAP<{type_sql(t.keyType)}, {type_sql(t.valueType)}>"
    if isinstance(t, T.StructType):
        return "STRUCT<" + ", ".join(f"{f.name}: {type_sql(f.dataType)}" for f in t.fields) + ">"
    return type_info(t)[1]


def java_double(v):
    """Java's Double.toString, which Spark's CAST(double AS STRING) uses."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0:
        return "-0.0" if str(v).startswith("-") else "0.0"
    r = repr(v)
    a = abs(v)
    if 1e-3 <= a < 1e7:
        if "e" in r or "E" in r:  # not expected in this range, but be safe
            r = format(decimal.Decimal(r), "f")
        return r if "." in r else r + ".0"
    sign, digits, exp = decimal.Decimal(r).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    e10 = len(digits) - 1 + exp
    mant = str(digits[0]) + "." + ("".join(map(str, digits[1:])) or "0")
    return ("-" if sign else "") + mant + "E" + str(e10)


def java_float(v):
    """Java's Float.toString for a float32 value (shortest round-trip digits)."""
    if v != v or v in (float("inf"), float("-inf")) or v == 0:
        return java_double(v)
    packed = struct.pack("f", v)
    for p in range(1, 10):
        s = "%.*g" % (p, v)
        if struct.pack("f", float(s)) == packed:
            return java_double(float(s))
    return java_double(v)


def fmt_timestamp(v):
    """TIMESTAMP -> 2024-03-01T10:15:00.000Z (ISO 8601, UTC, milliseconds;
    microseconds when the value has sub-millisecond digits)."""
    if v.tzinfo is not None:
        v = v.astimezone(UTC)
    base = v.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{v.microsecond // 1000:03d}" if v.microsecond % 1000 == 0 else f".{v.microsecond:06d}"
    return base + frac + ("Z" if v.tzinfo is not None else "")


def _json_nested(v):
    """Values inside ARRAY/MAP/STRUCT -> JSON-compatible values."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else java_double(v)
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return fmt_timestamp(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {str(k): _json_nested(x) for k, x in v.items()}
    if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {str(_json_nested(k)): _json_nested(x) for k, x in v}  # map
    if isinstance(v, (list, tuple)):
        return [_json_nested(x) for x in v]
    return str(v)


def cell_formatter(arrow_type):
    """Arrow type -> function(python value) -> JSON_ARRAY string."""
    if pa.types.is_boolean(arrow_type):
        return lambda v: "true" if v else "false"
    if pa.types.is_integer(arrow_type):
        return str
    if pa.types.is_float32(arrow_type):
        return java_float
    if pa.types.is_floating(arrow_type):
        return java_double
    if pa.types.is_decimal(arrow_type):
        return lambda v: format(v, "f")
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return lambda v: v
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return lambda v: base64.b64encode(v).decode()
    if pa.types.is_date(arrow_type):
        return lambda v: v.isoformat()
    if pa.types.is_timestamp(arrow_type):
        return fmt_timestamp
    if pa.types.is_null(arrow_type):
        return lambda v: None
    if pa.types.is_nested(arrow_type):
        return lambda v: json.dumps(_json_nested(v), separators=(",", ":"))
    return str


def table_rows(table):
    """pyarrow Table -> list of rows of str/None (JSON_ARRAY form)."""
    cols = []
    for i, field in enumerate(table.schema):
        f = cell_formatter(field.type)
        values = table.column(i).to_pylist()
        cols.append([None if v is None else f(v) for v in values])
    return [list(r) for r in zip(*cols)] if cols else [[] for _ in range(table.num_rows)]


def normalize_arrow(table):
    """Arrow as the Statement Execution API sends it: regular (not large)
    string/binary; timestamps stay timestamp[us, tz=UTC] / timestamp[us]."""
    fields = []
    changed = False
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t):
            t, changed = pa.string(), True
        elif pa.types.is_large_binary(t):
            t, changed = pa.binary(), True
        fields.append(pa.field(f.name, t, f.nullable))
    return table.cast(pa.schema(fields)) if changed else table


def arrow_stream_bytes(table):
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def csv_bytes(columns, rows, header):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    if header:
        w.writerow(columns)
    for r in rows:
        w.writerow(["null" if v is None else v for v in r])
    return out.getvalue().encode()


# --------------------------------------------------------------------------
# Running statements on Spark


def start_statement(st):
    """Called under LOCK: PENDING -> RUNNING and the worker thread starts."""
    from pyspark import InheritableThread

    st.started = True
    st.state = "RUNNING"
    COND.notify_all()
    InheritableThread(target=run_statement, args=(st,), daemon=True, name=f"stmt-{st.id}").start()


def finish(st, state, error=None, sql_state=None, manifest=None, chunks=None):
    with LOCK:
        if st.terminal:
            return
        st.state = state
        st.error = error
        st.sql_state = sql_state
        if manifest is not None:
            st.manifest = manifest
            st.chunks = chunks
        COND.notify_all()


def run_statement(st):
    knobs = st.warehouse.knobs
    t0 = time.monotonic()
    try:
        if knobs["fail"] is not None:
            outcome = StatementFailure(str(knobs["fail"]), None)
        else:
            outcome = execute_on_spark(st)
    except StatementFailure as e:
        outcome = e
    except Exception as e:  # noqa: BLE001
        if st.cancel_event.is_set():
            return  # the job was canceled; the state already says so
        outcome = spark_failure(e)
    # The engine's own time (Spark and building the result's chunks), which
    # benchmarks subtract from what the client saw: the protocol's overhead.
    with LOCK:
        st.warehouse.statement_ms.append(round((time.monotonic() - t0) * 1000, 1))
    # run_delay_ms: stay RUNNING at least this long; a cancel ends the wait.
    remaining = knobs["run_delay_ms"] / 1000.0 - (time.monotonic() - t0)
    if remaining > 0 and st.cancel_event.wait(remaining):
        return
    if st.cancel_event.is_set():
        return
    if isinstance(outcome, StatementFailure):
        finish(st, "FAILED", (outcome.code, outcome.message), outcome.sql_state)
    else:
        manifest, chunks = outcome
        finish(st, "SUCCEEDED", manifest=manifest, chunks=chunks)


def spark_failure(e):
    from pyspark.errors import PySparkException

    if isinstance(e, PySparkException):
        try:
            msg = e.getMessage()
        except Exception:  # noqa: BLE001
            msg = str(e)
        msg = (msg or str(e)).strip()
        try:
            state = e.getSqlState()
        except Exception:  # noqa: BLE001
            state = None
        return StatementFailure(msg, state)
    from py4j.protocol import Py4JJavaError

    if isinstance(e, Py4JJavaError):  # e.g. from the catalog API: Spark's own error
        try:
            je = e.java_exception
            msg = str(je.getMessage() or je.toString()).strip()
            try:
                state = je.getSqlState()
            except Exception:  # noqa: BLE001
                state = None
            return StatementFailure(msg, str(state) if state else None)
        except Exception:  # noqa: BLE001
            pass
    eprint("statement failed unexpectedly:\n" + traceback.format_exc())
    return StatementFailure(f"{type(e).__name__}: {e}", None, code="INTERNAL_ERROR")


def execute_on_spark(st):
    knobs = st.warehouse.knobs
    args = {}
    for p in st.params:
        args[p["name"]] = convert_param(p["kind"], p["precision"], p["scale"], p["value"])
    session = SPARK.newSession()
    sc = SPARK.sparkContext
    sc.setJobGroup(st.id, f"statement {st.id}", interruptOnCancel=True)
    with LOCK:
        if st.cancel_event.is_set():
            return None
        st.spark_active = True
    try:
        if st.catalog:
            session.catalog.setCurrentCatalog(st.catalog)
        if st.schema:
            session.catalog.setCurrentDatabase(st.schema)
        df = session.sql(st.text, args=args) if args else session.sql(st.text)
        if st.row_limit is not None:
            df = df.limit(st.row_limit + 1)
        schema = df.schema
        table = df.toArrow()
    finally:
        with LOCK:
            st.spark_active = False
    if st.cancel_event.is_set():
        return None
    return build_result(st, schema, normalize_arrow(table), knobs)


def build_result(st, schema, table, knobs):
    truncated = False
    if st.row_limit is not None and table.num_rows > st.row_limit:
        table = table.slice(0, st.row_limit)
        truncated = True
    if st.byte_limit is not None and table.num_rows and table.nbytes > st.byte_limit:
        per_row = table.nbytes / table.num_rows
        table = table.slice(0, int(st.byte_limit // per_row))
        truncated = True
    columns = []
    for i, f in enumerate(schema.fields):
        name, text, extra = type_info(f.dataType)
        col = {"name": f.name, "position": i, "type_name": name, "type_text": text}
        col.update(extra)
        columns.append(col)
    total = table.num_rows
    step = max(1, int(knobs["chunk_rows"]))
    chunks = []
    inline = st.disposition == "INLINE"
    if inline or st.format in ("JSON_ARRAY", "CSV"):
        rows = table_rows(table)
    if inline:
        size = len(json.dumps(rows, separators=(",", ":")).encode())
        if size > knobs["inline_limit_bytes"]:
            raise StatementFailure(
                "Inline byte limit exceeded. Statements executed with disposition=INLINE can have a "
                f"result size of at most {knobs['inline_limit_bytes']} bytes. Please use "
                "disposition=EXTERNAL_LINKS for large result sets.",
                None,
            )
    for idx, off in enumerate(range(0, total, step)):
        n = min(step, total - off)
        if inline:
            chunks.append(Chunk(idx, off, n, rows=rows[off : off + n]))
        elif st.format == "ARROW_STREAM":
            chunks.append(Chunk(idx, off, n, data=arrow_stream_bytes(table.slice(off, n))))
        elif st.format == "CSV":
            names = [c["name"] for c in columns]
            chunks.append(Chunk(idx, off, n, data=csv_bytes(names, rows[off : off + n], idx == 0)))
        else:
            body = json.dumps(rows[off : off + n], separators=(",", ":"))
            chunks.append(Chunk(idx, off, n, data=body.encode()))
    manifest = {
        "format": st.format,
        "schema": {"column_count": len(columns), "columns": columns},
        "total_chunk_count": len(chunks),
        "total_row_count": total,
        "truncated": truncated,
    }
    if chunks:
        manifest["chunks"] = []
        for c in chunks:
            info = {"chunk_index": c.index, "row_offset": c.row_offset, "row_count": c.row_count}
            if not inline:
                info["byte_count"] = len(c.data)
            manifest["chunks"].append(info)
    if not inline:
        manifest["total_byte_count"] = sum(len(c.data) for c in chunks)
    return manifest, chunks


def cancel_statement(st, reason="cancel"):
    """Called under LOCK. Ends a non-terminal statement CANCELED and stops
    its Spark job (outside the lock)."""
    if st.terminal:
        return
    st.state = "CANCELED"
    st.cancel_event.set()
    st.warehouse.canceled_statements += 1
    COND.notify_all()
    if st.spark_active:
        threading.Thread(
            target=_cancel_job_group, args=(st,), daemon=True, name=f"cancel-{st.id}"
        ).start()
    eprint(f"statement {st.id} canceled ({reason})")


def _cancel_job_group(st):
    # cancelJobGroup stops the group's active jobs only: repeat while the
    # statement is still inside Spark, so a job that starts late stops too.
    while True:
        try:
            SPARK.sparkContext.cancelJobGroup(st.id)
        except Exception as e:  # noqa: BLE001
            eprint(f"cancelJobGroup({st.id}) failed: {e}")
            return
        with LOCK:
            if not st.spark_active:
                return
        time.sleep(0.2)


# --------------------------------------------------------------------------
# API responses


def chunk_result(st, i):
    """Called under LOCK: the `result` object of chunk i (fresh link)."""
    c = st.chunks[i]
    nxt = i + 1 if i + 1 < len(st.chunks) else None
    nxt_fields = {}
    if nxt is not None:
        nxt_fields = {
            "next_chunk_index": nxt,
            "next_chunk_internal_link": f"/api/2.0/sql/statements/{st.id}/result/chunks/{nxt}",
        }
    if st.disposition == "INLINE":
        r = {
            "chunk_index": c.index,
            "row_offset": c.row_offset,
            "row_count": c.row_count,
            "data_array": c.rows,
        }
        r.update(nxt_fields)
        return r
    token = secrets.token_urlsafe(32)
    expires = time.time() + float(st.warehouse.knobs["link_ttl_seconds"])
    LINKS[token] = Link(st, i, expires)
    link = {
        "chunk_index": c.index,
        "row_offset": c.row_offset,
        "row_count": c.row_count,
        "byte_count": len(c.data),
        "external_link": f"{BASE_URL}/_store/{token}",
        "expiration": rfc3339(expires),
    }
    link.update(nxt_fields)
    return {"external_links": [link]}


def statement_json(st):
    """Called under LOCK."""
    status = {"state": st.state}
    if st.state == "FAILED" and st.error:
        status["error"] = {"error_code": st.error[0], "message": st.error[1]}
        if st.sql_state:
            status["sql_state"] = st.sql_state
    out = {"statement_id": st.id, "status": status}
    if st.state == "SUCCEEDED":
        out["manifest"] = st.manifest
        if st.chunks:
            out["result"] = chunk_result(st, 0)
    return out


def parse_submit(body):
    if not isinstance(body, dict):
        raise api_error(400, "MALFORMED_REQUEST", "Request body must be a JSON object.")
    stmt = body.get("statement")
    if not isinstance(stmt, str) or not stmt.strip():
        raise bad_param("statement is required and must be a non-empty string.")
    disposition = body.get("disposition") or "INLINE"
    if disposition not in ("INLINE", "EXTERNAL_LINKS"):
        raise bad_param(f"Invalid disposition {disposition!r}: expected INLINE or EXTERNAL_LINKS.")
    fmt = body.get("format") or "JSON_ARRAY"
    if fmt not in ("JSON_ARRAY", "ARROW_STREAM", "CSV"):
        raise bad_param(f"Invalid format {fmt!r}: expected JSON_ARRAY, ARROW_STREAM or CSV.")
    if disposition == "INLINE" and fmt != "JSON_ARRAY":
        raise bad_param(
            f"The format {fmt} is not supported with disposition INLINE; "
            "INLINE supports only JSON_ARRAY. Use disposition EXTERNAL_LINKS."
        )
    wait = body.get("wait_timeout")
    wait = "10s" if wait is None else wait
    m = WAIT_RE.match(wait) if isinstance(wait, str) else None
    if not m or not (int(m.group(1)) == 0 or 5 <= int(m.group(1)) <= 50):
        raise bad_param(
            f"Invalid wait_timeout {wait!r}: must be '0s' or between '5s' and '50s'."
        )
    on_timeout = body.get("on_wait_timeout") or "CONTINUE"
    if on_timeout not in ("CONTINUE", "CANCEL"):
        raise bad_param(f"Invalid on_wait_timeout {on_timeout!r}: expected CONTINUE or CANCEL.")
    limits = {}
    for key in ("row_limit", "byte_limit"):
        v = body.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            # int64 fields may arrive as JSON strings (proto3 JSON mapping)
            if isinstance(v, str) and v.isdigit():
                v = int(v)
            else:
                raise bad_param(f"{key} must be a non-negative integer.")
        limits[key] = v
    for key in ("catalog", "schema"):
        v = body.get(key)
        if v is not None and not isinstance(v, str):
            raise bad_param(f"{key} must be a string.")
    params = []
    raw_params = body.get("parameters") or []
    if not isinstance(raw_params, list):
        raise bad_param("parameters must be a list.")
    seen = set()
    for p in raw_params:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise bad_param("Each parameter needs a string name.")
        name = p["name"]
        if not NAME_RE.match(name):
            raise bad_param(f"Invalid parameter name {name!r}.")
        if name in seen:
            raise bad_param(f"Duplicate parameter name {name!r}.")
        seen.add(name)
        value = p.get("value")
        if value is not None and not isinstance(value, str):
            raise bad_param(f"The value of parameter {name!r} must be a string or null.")
        ptype = p.get("type")
        if ptype is not None and not isinstance(ptype, str):
            raise bad_param(f"The type of parameter {name!r} must be a string.")
        kind, prec, scale = parse_param_type(ptype)
        params.append({"name": name, "value": value, "kind": kind, "precision": prec, "scale": scale})
    return {
        "statement": stmt,
        "disposition": disposition,
        "format": fmt,
        "wait": int(m.group(1)),
        "on_wait_timeout": on_timeout,
        "row_limit": limits["row_limit"],
        "byte_limit": limits["byte_limit"],
        "catalog": body.get("catalog") or None,
        "schema": body.get("schema") or None,
        "params": params,
    }


def handle_submit(handler, raw):
    user = authenticate(handler.headers)
    body = handler._json_body(raw)
    if not isinstance(body, dict):
        raise api_error(400, "MALFORMED_REQUEST", "Request body must be a JSON object.")
    wid = body.get("warehouse_id")
    if not isinstance(wid, str) or not wid:
        raise bad_param("warehouse_id is required.")
    with LOCK:
        wh = WAREHOUSES.get(wid)
        if wh is None:
            raise api_error(404, "NOT_FOUND", f"Warehouse {wid} does not exist.")
        check_throttle(wh)
    req = parse_submit(body)
    with LOCK:
        st = Statement(wh, user, req)
        STATEMENTS[st.id] = st
        wh.statements += 1
        wh.statements_by_user[user] = wh.statements_by_user.get(user, 0) + 1
        wh.statement_texts.append(req["statement"])
        first_n = wh.knobs["starting_statements"]
        if wh.knobs["starting_polls"] <= 0 or (first_n is not None and wh.statements > first_n):
            start_statement(st)
        deadline = time.monotonic() + req["wait"]
        while not st.terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            COND.wait(left)
        if not st.terminal and req["wait"] > 0 and req["on_wait_timeout"] == "CANCEL":
            cancel_statement(st, "wait_timeout with on_wait_timeout=CANCEL")
        return 200, statement_json(st)


def find_statement(sid, user):
    st = STATEMENTS.get(sid)
    if st is None or st.user != user:
        raise api_error(404, "NOT_FOUND", f"The statement {sid} was not found.")
    return st


def handle_get_statement(handler, sid):
    user = authenticate(handler.headers)
    with LOCK:
        st = find_statement(sid, user)
        wh = st.warehouse
        wh.status_polls += 1
        check_throttle(wh)
        if st.state == "PENDING" and not st.started:
            st.polls += 1
            if st.polls > wh.knobs["starting_polls"]:
                start_statement(st)
        return 200, statement_json(st)


def handle_get_chunk(handler, sid, idx):
    user = authenticate(handler.headers)
    with LOCK:
        st = find_statement(sid, user)
        wh = st.warehouse
        wh.chunk_calls += 1
        check_throttle(wh, is_chunk=True)
        if st.state != "SUCCEEDED":
            raise bad_param(
                f"The statement {sid} is in state {st.state}; result chunks are available only "
                "after it SUCCEEDED."
            )
        if not 0 <= idx < len(st.chunks):
            raise bad_param(
                f"chunk_index {idx} is out of range: the result has {len(st.chunks)} chunk(s)."
            )
        return 200, chunk_result(st, idx)


def handle_cancel(handler, sid):
    user = authenticate(handler.headers)
    with LOCK:
        st = find_statement(sid, user)
        wh = st.warehouse
        wh.cancels += 1
        check_throttle(wh)
        cancel_statement(st)
        return 200, {}


def handle_download(handler, token):
    with LOCK:
        link = LINKS.get(token)
        if link is None:
            return 404, s3_error("NoSuchKey", "The specified key does not exist.")
        wh = link.statement.warehouse
        wh.link_downloads += 1
        if handler.headers.get("Authorization") is not None:
            wh.link_downloads_with_authorization += 1
            return 400, s3_error(
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
            )
        if time.time() >= link.expires_at:
            return 403, s3_error("AccessDenied", "Request has expired")
        if wh.link_403_served < wh.knobs["link_403_first"]:
            wh.link_403_served += 1
            return 403, s3_error("AccessDenied", "Request has expired")
        data = link.statement.chunks[link.chunk_index].data
    return 200, data


def s3_error(code, message):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


def handle_oauth_token(handler, raw, content_type):
    form = {}
    if "json" in (content_type or ""):
        try:
            form = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
        except (ValueError, AttributeError):
            form = {}
    else:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    cid, secret = form.get("client_id"), form.get("client_secret")
    auth = handler.headers.get("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth.split(None, 1)[1]).decode()
            cid, _, secret = decoded.partition(":")
            cid, secret = unquote(cid), unquote(secret)
        except Exception:  # noqa: BLE001
            cid = secret = None
    if form.get("grant_type") != "client_credentials":
        return 400, {
            "error": "unsupported_grant_type",
            "error_description": "grant_type must be client_credentials",
        }
    with LOCK:
        client = OAUTH_CLIENTS.get(cid or "")
        if client is None or client["secret"] != secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        scope = form.get("scope") or "all-apis"
        if scope not in ("all-apis", "sql", "all-apis offline_access"):
            return 400, {"error": "invalid_scope", "error_description": f"Invalid scope {scope!r}"}
        token = "dose" + secrets.token_hex(24)
        TOKENS[token] = {"user": client["user"], "expires_at": time.time() + client["expires_in"]}
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(client["expires_in"]),
            "scope": scope,
        }


# --------------------------------------------------------------------------
# Control endpoints (no auth)


def ctl_tables(body):
    name, path = body.get("name"), body.get("path")
    if not isinstance(name, str) or name.count(".") != 1:
        raise ApiError(400, {"ok": False, "error": "name must be 'db.table'"})
    db, table = name.split(".")
    if not (NAME_RE.match(db) and NAME_RE.match(table)):
        raise ApiError(400, {"ok": False, "error": "db and table must be plain identifiers"})
    if (
        not isinstance(path, str)
        or not os.path.isabs(path)
        or any(c in path for c in "'\"`\\\n\r")
        or not os.path.exists(path)
    ):
        raise ApiError(
            400, {"ok": False, "error": "path must be an existing absolute path without quotes"}
        )
    with TABLE_LOCK:
        try:
            SPARK.sql(f"CREATE DATABASE IF NOT EXISTS `{db}`")
            SPARK.sql(f"DROP TABLE IF EXISTS `{db}`.`{table}`")
            SPARK.sql(f"CREATE TABLE `{db}`.`{table}` USING parquet LOCATION '{path}'")
        except Exception as e:  # noqa: BLE001
            raise ApiError(400, {"ok": False, "error": str(spark_failure(e).message)})
    eprint(f"table {db}.{table} -> {path}")
    return {"ok": True}


def ctl_users(body):
    token, user = body.get("token"), body.get("user")
    if not isinstance(token, str) or not token or not isinstance(user, str) or not user:
        raise ApiError(400, {"ok": False, "error": "token and user are required strings"})
    with LOCK:
        TOKENS[token] = {"user": user, "expires_at": None}
    return {"ok": True}


def ctl_oauth_clients(body):
    cid, secret, user = body.get("client_id"), body.get("client_secret"), body.get("user")
    expires_in = body.get("expires_in", 3600)
    if not all(isinstance(x, str) and x for x in (cid, secret, user)):
        raise ApiError(400, {"ok": False, "error": "client_id, client_secret, user are required"})
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        raise ApiError(400, {"ok": False, "error": "expires_in must be a positive number"})
    with LOCK:
        OAUTH_CLIENTS[cid] = {"secret": secret, "user": user, "expires_in": expires_in}
    return {"ok": True}


def ctl_warehouses(body):
    wid = body.get("id")
    if not isinstance(wid, str) or not wid:
        raise ApiError(400, {"ok": False, "error": "id is required"})
    unknown = set(body) - set(KNOB_DEFAULTS) - {"id"}
    if unknown:
        raise ApiError(400, {"ok": False, "error": f"unknown knobs: {sorted(unknown)}"})
    knobs = dict(KNOB_DEFAULTS)
    for k, v in body.items():
        if k == "id":
            continue
        if k == "fail":
            if v is not None and not isinstance(v, str):
                raise ApiError(400, {"ok": False, "error": "fail must be a string or null"})
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ApiError(400, {"ok": False, "error": f"{k} must be a non-negative number"})
        knobs[k] = v
    if knobs["chunk_rows"] < 1:
        raise ApiError(400, {"ok": False, "error": "chunk_rows must be >= 1"})
    with LOCK:
        WAREHOUSES[wid] = Warehouse(wid, knobs)
    return {"ok": True}


def ctl_warehouse_counters(wid):
    with LOCK:
        wh = WAREHOUSES.get(wid)
        if wh is None:
            raise ApiError(404, {"ok": False, "error": f"no warehouse {wid}"})
        return wh.counters()


# --------------------------------------------------------------------------
# HTTP plumbing

R_STATEMENTS = re.compile(r"^/api/2\.0/sql/statements/?$")
R_STATEMENT = re.compile(r"^/api/2\.0/sql/statements/([^/]+)/?$")
R_CHUNK = re.compile(r"^/api/2\.0/sql/statements/([^/]+)/result/chunks/([^/]+)/?$")
R_CANCEL = re.compile(r"^/api/2\.0/sql/statements/([^/]+)/cancel/?$")
R_STORE = re.compile(r"^/_store/([A-Za-z0-9_-]+)$")
R_CTL_WH = re.compile(r"^/_test/warehouses/([^/]+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "databricks-statement-test-server"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: one short line per request
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, payload, content_type="application/json", headers=None):
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            eprint(f"client went away before the answer to {self.command} {self.path}")
            self.close_connection = True

    def _dispatch(self, method):
        path = urlsplit(self.path).path
        t0 = time.monotonic()
        status = 500
        try:
            raw = self._read_body()
            status, payload, ctype, headers = self._route(method, path, raw)
        except ApiError as e:
            status, payload, ctype, headers = e.status, e.body, "application/json", e.headers
        except Exception as e:  # noqa: BLE001
            eprint(f"internal error on {method} {path}:\n{traceback.format_exc()}")
            status, ctype, headers = 500, "application/json", {}
            payload = {"error_code": "INTERNAL_ERROR", "message": f"{type(e).__name__}: {e}"}
        self._send(status, payload, ctype, headers)
        if not path.startswith("/_test/"):
            eprint(f"{method} {path[:90]} -> {status} ({(time.monotonic() - t0) * 1000:.0f} ms)")

    def _json_body(self, raw):
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise api_error(400, "MALFORMED_REQUEST", "Could not parse the request body as JSON.")

    def _route(self, method, path, raw):
        J = "application/json"
        if method == "POST" and R_STATEMENTS.match(path):
            status, body = handle_submit(self, raw)
            return status, body, J, {}
        m = R_CHUNK.match(path)
        if m and method == "GET":
            try:
                idx = int(m.group(2))
            except ValueError:
                raise bad_param(f"chunk_index {m.group(2)!r} is not an integer.")
            status, body = handle_get_chunk(self, m.group(1), idx)
            return status, body, J, {}
        m = R_CANCEL.match(path)
        if m and method == "POST":
            status, body = handle_cancel(self, m.group(1))
            return status, body, J, {}
        m = R_STATEMENT.match(path)
        if m and method == "GET":
            status, body = handle_get_statement(self, m.group(1))
            return status, body, J, {}
        m = R_STORE.match(path)
        if m and method == "GET":
            status, data = handle_download(self, m.group(1))
            ctype = "application/octet-stream" if status == 200 else "application/xml"
            return status, data, ctype, {}
        if method == "POST" and path == "/oidc/v1/token":
            status, body = handle_oauth_token(self, raw, self.headers.get("Content-Type"))
            return status, body, J, {}
        if method == "GET" and path == "/oidc/.well-known/oauth-authorization-server":
            return 200, {
                "issuer": f"{BASE_URL}/oidc",
                "authorization_endpoint": f"{BASE_URL}/oidc/v1/authorize",
                "token_endpoint": f"{BASE_URL}/oidc/v1/token",
            }, J, {}
        if path.startswith("/_test/"):
            if method == "POST" and path == "/_test/tables":
                return 200, ctl_tables(self._ctl_body(raw)), J, {}
            if method == "POST" and path == "/_test/users":
                return 200, ctl_users(self._ctl_body(raw)), J, {}
            if method == "POST" and path == "/_test/oauth_clients":
                return 200, ctl_oauth_clients(self._ctl_body(raw)), J, {}
            if method == "POST" and path == "/_test/warehouses":
                return 200, ctl_warehouses(self._ctl_body(raw)), J, {}
            m = R_CTL_WH.match(path)
            if m and method == "GET":
                return 200, ctl_warehouse_counters(unquote(m.group(1))), J, {}
        raise api_error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")

    def _ctl_body(self, raw):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, {"ok": False, "error": "body must be JSON"})
        if not isinstance(body, dict):
            raise ApiError(400, {"ok": False, "error": "body must be a JSON object"})
        return body


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


# --------------------------------------------------------------------------
# Start-up and shut-down


def start_spark(tmp):
    from pyspark.sql import SparkSession

    os.environ["SPARK_LOCAL_DIRS"] = os.path.join(tmp, "local")  # scratch space, removed at exit
    for name in ("py4j", "pyspark", "DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("databricks-statement-test-server")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", os.path.join(tmp, "warehouse"))
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        logging.getLogger(name).disabled = True
    warm_up(spark, tmp)
    return spark


def warm_up(spark, tmp):
    """Run one small statement of the usual shape (a Parquet table, a
    timestamp parameter, a GROUP BY, Arrow collection) so the first real
    statement does not pay for class loading and code generation."""
    import pyarrow.parquet as pq

    path = os.path.join(tmp, "warm_up.parquet")
    ts = [dt.datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(4)]
    pq.write_table(
        pa.table({"ts": pa.array(ts, pa.timestamp("us", tz="UTC")), "k": ["a", "b"] * 2, "v": [1.0] * 4}),
        path,
    )
    spark.read.parquet(path).createOrReplaceTempView("warm_up")
    spark.sql(
        "SELECT k, CAST(ts AS DATE) AS d, COUNT(*) AS n, SUM(v) AS s FROM warm_up "
        "WHERE ts >= :t GROUP BY 1, 2",
        args={"t": dt.datetime(2024, 1, 1, tzinfo=UTC)},
    ).toArrow()
    spark.catalog.dropTempView("warm_up")


def main():
    global SPARK, BASE_URL
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    ap.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="do not exit at stdin EOF (for running by hand; stop with Ctrl-C or SIGTERM)",
    )
    args = ap.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if not args.ignore_stdin:

        def watch_stdin():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except Exception:  # noqa: BLE001
                pass
            eprint("stdin closed: shutting down")
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True, name="stdin-watch").start()

    tmp = tempfile.mkdtemp(prefix="statement-server-")
    httpd = None
    serving = False
    try:
        httpd = Server(("127.0.0.1", args.port), Handler)
        port = httpd.server_address[1]
        BASE_URL = f"http://127.0.0.1:{port}"
        SPARK = start_spark(tmp)
        if stop.is_set():
            return
        threading.Thread(target=httpd.serve_forever, daemon=True, name="http").start()
        serving = True
        eprint(f"spark {SPARK.version} ready; listening on {BASE_URL}")
        os.write(_REAL_STDOUT, f"listening {BASE_URL}\n".encode())
        while not stop.wait(0.5):
            pass
    finally:
        if httpd is not None:
            try:
                if serving:
                    httpd.shutdown()
                httpd.server_close()
            except Exception:  # noqa: BLE001
                pass
        if SPARK is not None:
            t = threading.Thread(target=SPARK.stop, daemon=True)
            t.start()
            t.join(15)
        shutil.rmtree(tmp, ignore_errors=True)
        eprint("stopped")
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
