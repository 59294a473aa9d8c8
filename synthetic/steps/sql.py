"""``sql`` steps: a read-only query against the target's database, with assertions on the rows.

This is how a journey proves its database layer, e.g. that checkout really wrote the order row::

    - name: order-row-exists
      sql:
        query: "SELECT id, total FROM shop_order WHERE id = %(order_id)s"
        params: {order_id: "${order_id}"}
      expect:
        rows: 1                    # exact count; or min_rows: 1
        values: {total: "${order_total}"}   # columns of the first row
        max_duration: 200ms
      extract:
        order_total: {column: total}

The read-only guard
-------------------
``check_query`` reads the statement with a real SQL tokenizer in the dialect of each target's database
(``mysql`` for MySQL and MariaDB, ``sqlite``), when the config loads (a listed config problem) and again right
before the statement is sent (a spec built in code does not skip it). It allows exactly one statement:
``SELECT``, ``WITH … SELECT``, ``SHOW``, or ``EXPLAIN``/``DESCRIBE`` of a SELECT or a table. It refuses
anything that writes or locks, wherever it hides:

- ``INTO`` anywhere: ``INTO OUTFILE``/``INTO DUMPFILE`` write a file on the database server, and a read-only
  transaction does not stop them (MySQL's rule: only the FILE privilege does); ``INTO @var`` and
  ``SELECT … INTO table`` store the result instead of returning rows the step could check.
- ``INSERT``, ``UPDATE``, ``DELETE``, ``REPLACE`` anywhere (writes hidden in a CTE: ``WITH … DELETE``,
  ``WITH d AS (DELETE … RETURNING *) SELECT``, ``EXPLAIN ANALYZE DELETE`` which runs the delete); the
  string functions ``INSERT(…)`` and ``REPLACE(…)`` stay allowed.
- Row locks: ``FOR UPDATE``, ``FOR SHARE``, ``LOCK IN SHARE MODE``.
- Functions with side effects (``_FUNCTIONS``): the named-lock functions ``GET_LOCK``, ``RELEASE_LOCK``,
  ``RELEASE_ALL_LOCKS`` (``IS_FREE_LOCK``/``IS_USED_LOCK`` only look and are allowed), ``LOAD_FILE`` (reads a
  server file), the sequence writers ``NEXTVAL``, ``SETVAL``, ``NEXT VALUE FOR``, the well-known command UDFs
  ``sys_exec``/``sys_eval``, and SQLite's ``load_extension``, ``readfile``, ``writefile``, ``edit``. A quoted
  name (```GET_LOCK`(…)``), a space or a comment before the parenthesis does not hide them.
- ``SLEEP`` and ``BENCHMARK`` are allowed: they only spend time, and the run's deadline ends the step.

What keeps the tokenizer and the server reading the same text (each case is a way to hide a keyword):

- Every character between two tokens must be whitespace or a comment by the *server's* rules, checked by our
  own scanner (``_gap_problem``): MySQL's ``--`` starts a comment only before whitespace (``1--1`` is
  ``1 - -1``), ``#`` comments run to the end of the line, comments do not nest; a tokenizer's own extras
  (sqlglot reads Jinja's ``{# … #}`` as a comment in every dialect; MariaDB runs ``{x {# …`` as an ODBC
  escape and the rest as code) are refused.
- MySQL's executable comments ``/*! … */`` and MariaDB's ``/*M! … */`` are refused: the server runs them.
- A backslash inside a quoted string or name is refused on MySQL: it is an escape unless the server runs
  with ``NO_BACKSLASH_ESCAPES`` (or ``ANSI_QUOTES`` for ``"``), so the string could end in two places.
- Control characters and non-ASCII spaces are refused (servers and tokenizers disagree on what is a space).
- ``%(name)s`` must stand where a value goes: the MySQL driver splices the quoted value into the text, so
  inside a quoted string, quoted name or comment it would become code. ``${variables}`` never reach the
  statement text (they fill ``params`` only), so a ``${…}`` in the query is refused with that hint.

Why sqlglot (pinned to one major version) and not sqlparse, which Django already installs: sqlparse has one
lexer for every dialect and reads ``1--1 INTO OUTFILE '/f'`` as a number and a comment (MySQL writes the
file), ``#x`` as an operator, and ``/*!…*/`` as a comment; sqlglot's MySQL and SQLite tokenizers follow each
server's comment, quoting and escaping rules and give each token's offsets, which the gap check needs.

Defence in depth when the query runs: MySQL/MariaDB connections refuse multiple statements in one call, set
``SESSION TRANSACTION READ ONLY`` (DDL commits implicitly and would escape a bare ``START TRANSACTION READ
ONLY``) and run the query in ``START TRANSACTION READ ONLY``; SQLite opens the file with ``mode=ro``, runs one
statement and lets an authorizer allow only reading (``mode=ro`` alone lets ``ATTACH`` create a file and
``VACUUM INTO`` copy the database out). On MySQL/MariaDB none of this stops ``INTO OUTFILE``, a lock function or
``LOAD_FILE``: the guard above and the probe user's grants do. So at the first connection to each MySQL/MariaDB
DSN (once per process) the step reads ``SHOW GRANTS`` (and those of its roles) and, when the user holds more
than read privileges (``READ_PRIVILEGES``), logs a warning naming the target and the privileges; the exporter
turns ``probe_user_grants`` into the gauge ``workflow_sql_probe_user_excess_privileges{target}``. The run never
fails for it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, unquote, urlsplit

from sqlglot.dialects.mysql import MySQL
from sqlglot.dialects.sqlite import SQLite
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from ..errors import Problems, unknown
from ..model import Step, Target
from ..result import AssertionResult, Exchange, StepFailure, StepResult
from ._base import RunContext, check_budget, fail_on_first_failed_check

logger = logging.getLogger("synthetic.steps.sql")

_NAMED_PARAM = re.compile(r"%\((\w+)\)s")
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # what may go into the request_id comment
MAX_QUERY_CHARS = 65_536

DIALECTS = ("mysql", "sqlite")
_DIALECT_NAMES = {"mysql": "MySQL/MariaDB", "sqlite": "SQLite"}
STATEMENTS = "SELECT, WITH … SELECT, SHOW, EXPLAIN or DESCRIBE"


# --- the read-only guard ------------------------------------------------------------------------------------


class _MySQLTokenizer(MySQL.Tokenizer):
    # sqlglot reads everything after a leading command word (SHOW, EXPLAIN in SQLite, REPLACE …) as one string;
    # the guard needs every token.
    COMMANDS: ClassVar[set[TokenType]] = set()


class _SQLiteTokenizer(SQLite.Tokenizer):
    COMMANDS: ClassVar[set[TokenType]] = set()


_STRINGS = frozenset(
    {
        TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEX_STRING, TokenType.BIT_STRING,
        TokenType.BYTE_STRING, TokenType.RAW_STRING, TokenType.NATIONAL_RAW_STRING, TokenType.HEREDOC_STRING,
        TokenType.UNICODE_STRING,
    }
)  # fmt: skip
_NAME_QUOTES = {"mysql": ("`",), "sqlite": ('"', "`", "[")}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NOT_IN_CODE = ("'", '"', "`", "#", "/*", "--")
_LITERAL_START = re.compile(r"""(?:[xXbBnN]?['"]|0[xX][0-9A-Fa-f]+\Z|0[bB][01]+\Z)""")

_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
_STRING_FUNCTIONS = frozenset({"INSERT", "REPLACE"})  # INSERT(str, pos, len, new), REPLACE(str, from, to)
# Functions a SELECT may call that change something or reach outside the database; name -> what it does.
_FUNCTIONS = {
    "GET_LOCK": "takes a named lock",
    "RELEASE_LOCK": "releases a named lock",
    "RELEASE_ALL_LOCKS": "releases named locks",
    "LOAD_FILE": "reads a file on the database server",
    "NEXTVAL": "advances a sequence",
    "SETVAL": "sets a sequence",
    "SYS_EXEC": "runs a command on the database server",
    "SYS_EVAL": "runs a command on the database server",
    "LOAD_EXTENSION": "loads a library into the database",
    "READFILE": "reads a file",
    "WRITEFILE": "writes a file",
    "EDIT": "starts an editor",
}
_EXPLAIN_OPTIONS = frozenset({"EXTENDED", "PARTITIONS", "ANALYZE", "QUERY", "PLAN", "FORMAT", "VERBOSE"})


@dataclass(frozen=True)
class _Tok:
    kind: str  # word (unquoted, upper-cased), name (quoted identifier), string, param (%(name)s), other
    text: str


def check_query(query: str, dialect: str) -> str | None:
    """Why ``query`` is not one read-only statement the step may run on ``dialect`` (``mysql`` or ``sqlite``).

    Returns the first problem as a sentence (``"query must not write files: …"``), or None when the statement
    is allowed. The rules and their reasons are in this module's docstring. Pure and cached by the caller.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    if len(query) > MAX_QUERY_CHARS:
        return f"query is longer than {MAX_QUERY_CHARS} characters"
    for offset, char in enumerate(query):
        if (char < " " and char not in "\t\n\r") or char == "\x7f" or (char > "\x7f" and char.isspace()):
            return (
                f"query contains the character U+{ord(char):04X} at offset {offset}: "
                "use plain spaces, tabs and newlines"
            )
    if "${" in query:
        return (
            "query contains ${…}, which is never filled into the statement text: pass values as params "
            '(WHERE id = %(id)s with params: {id: "${id}"})'
        )
    tokens, problem = _read(query, dialect)
    if problem:
        return problem
    if not tokens:
        return f"query is empty; it must be one read-only statement ({STATEMENTS})"
    return _statement_problem(tokens, query)


_check_cached = functools.lru_cache(maxsize=512)(check_query)


def _read(query: str, dialect: str) -> tuple[list[_Tok], str | None]:
    """The statement's tokens without whitespace and comments, after proving the tokenizer read what the
    server will read; or the problem that stopped it."""
    tokenizer = _MySQLTokenizer(dialect="mysql") if dialect == "mysql" else _SQLiteTokenizer(dialect="sqlite")
    try:
        raw = tokenizer.tokenize(query)
    except TokenError as error:
        return [], f"query could not be read as {_DIALECT_NAMES[dialect]} SQL ({str(error)[:120]})"
    params = {m.start(): m for m in _NAMED_PARAM.finditer(query)}
    tokens: list[_Tok] = []
    position = 0
    skip_until = -1
    for token in raw:
        start, end = token.start, token.end + 1
        if start < position:
            return [], f"query could not be read as {_DIALECT_NAMES[dialect]} SQL (overlapping tokens at {start})"
        if problem := _gap_problem(query, position, start, dialect):
            return [], problem
        position = end
        source = query[start:end]
        if start < skip_until:
            continue
        if token.token_type in _STRINGS or token.token_type == TokenType.IDENTIFIER:
            kind = "string" if token.token_type in _STRINGS else "name"
            if problem := _quoted_problem(source, kind, dialect):
                return [], problem
            tokens.append(_Tok(kind, token.text))
            continue
        if any(marker in source for marker in _NOT_IN_CODE):
            return [], f"query could not be read as {_DIALECT_NAMES[dialect]} SQL (unexpected {source[:20]!r})"
        if start in params:
            tokens.append(_Tok("param", params[start].group(1)))
            skip_until = params.pop(start).end()
            continue
        for word in token.text.split():
            tokens.append(_Tok("word", word.upper()) if _WORD.fullmatch(word) else _Tok("other", word))
    if problem := _gap_problem(query, position, len(query), dialect):
        return [], problem
    for match in params.values():
        return [], (
            f"{match.group(0)} is inside a quoted string, quoted name or comment, where the driver would splice "
            "its value into the statement text: put it where a value goes"
        )
    return tokens, None


def _quoted_problem(source: str, kind: str, dialect: str) -> str | None:
    """A quoted token must look like one (else the tokenizer read something else), and hold no backslash on
    MySQL (an escape there, unless the server runs with NO_BACKSLASH_ESCAPES)."""
    looks_quoted = _LITERAL_START.match(source) if kind == "string" else source.startswith(_NAME_QUOTES[dialect])
    if not looks_quoted:
        return f"query could not be read as {_DIALECT_NAMES[dialect]} SQL (a quoted token reads as {source[:20]!r})"
    if dialect == "mysql" and "\\" in source:
        return (
            "query has a backslash inside a quoted string or name: MySQL reads it as an escape unless the server "
            "runs with NO_BACKSLASH_ESCAPES, so the string could end in two places; pass the value as a param"
        )
    return None


def _gap_problem(query: str, start: int, end: int, dialect: str) -> str | None:
    """Whether ``query[start:end]`` (between two tokens) is only whitespace and comments by the server's rules."""
    i = start
    while i < end:
        char = query[i]
        if char in " \t\r\n":
            i += 1
        elif query.startswith("/*", i):
            close = query.find("*/", i + 2, end)
            if close < 0:
                return f"query has a comment that does not end (offset {i})"
            if dialect == "mysql" and (query.startswith("/*!", i) or query[i + 2 : i + 4].upper() == "M!"):
                return (
                    "query must not contain executable comments (/*! … */, /*M! … */): MySQL and MariaDB run "
                    "their content as SQL"
                )
            i = close + 2
        elif (dialect == "mysql" and char == "#") or (
            query.startswith("--", i) and (dialect == "sqlite" or i + 2 >= len(query) or query[i + 2] in " \t\r\n")
        ):
            newline = query.find("\n", i, end)
            i = end if newline < 0 else newline + 1
        else:
            return (
                f"query could not be read as {_DIALECT_NAMES[dialect]} SQL: {query[i : i + 20]!r} at offset {i} is "
                "neither a token nor a comment to the database server"
            )
    return None


def _statement_problem(tokens: list[_Tok], query: str) -> str | None:
    while tokens and tokens[-1] == _Tok("other", ";"):
        tokens = tokens[:-1]
    if _Tok("other", ";") in tokens:
        return "query must be a single statement (a ';' is followed by more SQL)"
    if not tokens:
        return f"query is empty; it must be one read-only statement ({STATEMENTS})"
    first = next((t for t in tokens if t != _Tok("other", "(")), tokens[0])
    parenthesized = tokens[0] == _Tok("other", "(")
    if (
        first.kind != "word"
        or first.text not in ("SELECT", "WITH", "SHOW", "EXPLAIN", "DESCRIBE", "DESC")
        or (parenthesized and first.text not in ("SELECT", "WITH"))
    ):
        shown = " ".join(query.split())
        shown = shown if len(shown) <= 80 else shown[:79] + "…"
        return f"query must be one read-only statement ({STATEMENTS}), got {shown!r}"
    if problem := _side_effect(tokens):
        return problem
    if first.text in ("EXPLAIN", "DESCRIBE", "DESC"):
        return _explain_problem(tokens[1:])
    return None


def _side_effect(tokens: list[_Tok]) -> str | None:
    """The first write, lock, file access or side-effect function anywhere in the statement."""
    words = [t.text if t.kind == "word" else None for t in tokens]
    for i, token in enumerate(tokens):
        following = words[i + 1] if i + 1 < len(words) else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.kind not in ("word", "name"):
            continue
        name = token.text.upper()
        if after == _Tok("other", "(") and name in _FUNCTIONS:
            return f"query must not call {name}(): it {_FUNCTIONS[name]}"
        if token.kind != "word":
            continue
        if name == "FOR" and following in ("UPDATE", "SHARE"):
            return f"query must not take row locks (FOR {following})"
        if name == "LOCK" and following == "IN":
            return "query must not take row locks (LOCK IN SHARE MODE)"
        if name == "INTO":
            if following in ("OUTFILE", "DUMPFILE"):
                return f"query must not write files (INTO {following} writes a file on the database server)"
            return "query must not use SELECT … INTO (it stores the result instead of returning rows)"
        if name == "NEXT" and words[i + 1 : i + 3] == ["VALUE", "FOR"]:
            return "query must not advance a sequence (NEXT VALUE FOR)"
        if name in _WRITES and not (name in _STRING_FUNCTIONS and after == _Tok("other", "(")):
            return f"query must be read-only, found {name}"
    return None


def _explain_problem(rest: list[_Tok]) -> str | None:
    """EXPLAIN/DESCRIBE only of a SELECT (options first) or of a table (and a column or pattern)."""
    i = 0
    while i < len(rest) and (
        (rest[i].kind == "word" and rest[i].text in _EXPLAIN_OPTIONS)
        or rest[i] == _Tok("other", "=")
        or (i > 0 and rest[i - 1] == _Tok("other", "=") and rest[i].kind == "word")
    ):
        i += 1
    subject = rest[i:]
    if subject and (subject[0] == _Tok("other", "(") or subject[0].text in ("SELECT", "WITH")):
        return None
    shape = [t.kind if t.kind in ("word", "name", "string") else t.text for t in subject]
    tables = (["word"], ["name"])
    if (
        i == 0
        and subject
        and (shape[:1] in tables)
        and (shape[1:] in ([], ["word"], ["name"], ["string"]) or (shape[1:2] == ["."] and shape[2:3] in tables))
        and len(shape) <= 4
    ):
        return None
    return "query may EXPLAIN or DESCRIBE only a SELECT or a table"


# --- the probe user's grants --------------------------------------------------------------------------------

# Privileges that only read: the data (SELECT, SHOW VIEW), what exists (SHOW DATABASES, SHOW_ROUTINE) and how
# the server runs (PROCESS, REPLICATION CLIENT and MariaDB's BINLOG/SLAVE/REPLICA MONITOR, as mysqld_exporter
# needs). USAGE is no privilege at all. Everything else can change something or reach outside the database:
# FILE (INTO OUTFILE, LOAD_FILE), writes, DDL, EXECUTE (stored functions can write), LOCK TABLES, GRANT OPTION,
# PROXY, SUPER, *_ADMIN, ALL PRIVILEGES.
READ_PRIVILEGES = frozenset(
    {
        "USAGE", "SELECT", "SHOW VIEW", "SHOW DATABASES", "SHOW_ROUTINE", "SHOW CREATE ROUTINE", "PROCESS",
        "REPLICATION CLIENT", "BINLOG MONITOR", "SLAVE MONITOR", "REPLICA MONITOR",
    }
)  # fmt: skip
_MAX_GRANT_LINES = 200
_MAX_ROLES = 16


@dataclass(frozen=True)
class ProbeUserGrants:
    """What the first connection to a DSN found about its user.

    ``excess``: the privileges beyond ``READ_PRIVILEGES`` as ``"<PRIVILEGE> ON <object>"``, sorted, e.g.
    ``("FILE ON *.*", "INSERT ON `shop`.*")``; empty when the user can only read. ``error``: why the grants
    could not be read (then ``excess`` says nothing).
    """

    excess: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Grant:
    grantee: str
    excess: tuple[str, ...] = ()
    roles: tuple[tuple[str, str], ...] = ()  # (name, as SQL)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def read_grant(line: str) -> Grant | None:
    """One line of ``SHOW GRANTS``: who it is for, the privileges beyond reading, the roles it grants.

    None for lines that grant nothing (``REVOKE`` partial revokes, ``SET DEFAULT ROLE``). A ``GRANT`` line this
    cannot read counts as excess: unknown is not read-only.
    """
    try:
        tokens = _MySQLTokenizer(dialect="mysql").tokenize(line)
    except TokenError:
        tokens = []
    if not tokens or tokens[0].text.upper() != "GRANT":
        return None if tokens else Grant("", ("a grant that could not be read",))
    quoted = (TokenType.IDENTIFIER, *_STRINGS)
    items: list[list[Token]] = [[]]
    depth, i, stop = 0, 1, ""
    while i < len(tokens):
        token = tokens[i]
        word = token.text.upper() if token.token_type not in quoted else ""
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.token_type == TokenType.COMMA:
            items.append([])
        elif depth == 0 and word in ("ON", "TO"):
            stop = word
            break
        elif depth == 0:
            items[-1].append(token)
        i += 1
    words = [t.text.upper() if t.token_type not in quoted else "" for t in tokens]
    to = words.index("TO", i) if "TO" in words[i:] else -1
    if not stop or to < 0 or to + 1 >= len(tokens) or not all(items):
        return Grant("", ("a grant that could not be read",))
    grantee = tokens[to + 1].text
    tail = [t.text.upper() for t in tokens[to + 1 :] if t.token_type not in quoted]
    excess: list[str] = []
    if stop == "TO":  # GRANT role[, role] TO user [WITH ADMIN OPTION]
        roles = tuple((item[0].text, "".join(_quote(t.text) if t.token_type in quoted else t.text for t in item))
                      for item in items)  # fmt: skip
        if _has(tail, ["WITH", "ADMIN", "OPTION"]):
            excess.append("ADMIN OPTION on roles " + ", ".join(sql for _name, sql in roles))
        return Grant(grantee, tuple(excess), roles)
    on = line[tokens[i].end + 1 : tokens[to].start].strip()
    for item in items:
        privilege = " ".join(w for t in item for w in t.text.upper().split())
        if privilege not in READ_PRIVILEGES:
            excess.append(f"{privilege} ON {on}")
    if _has(tail, ["WITH", "GRANT", "OPTION"]):
        excess.append(f"GRANT OPTION ON {on}")
    return Grant(grantee, tuple(excess))


def _has(words: list[str], sequence: list[str]) -> bool:
    return any(words[i : i + len(sequence)] == sequence for i in range(len(words)))


def _read_grants(cursor: Any) -> ProbeUserGrants:
    """The privileges of the current user and of the roles granted to it.

    ``SHOW GRANTS`` lists the user's grants and, on MariaDB, those of its enabled (default) role. A granted role
    not shown there is read with ``SHOW GRANTS FOR role``; when the server does not let the user see it (MariaDB
    for a role that is not enabled, MySQL 8 without SELECT on ``mysql``) the role itself counts as excess:
    privileges we cannot see are not known to be read-only.
    """
    excess: set[str] = set()
    seen: set[str] = set()
    pending: list[tuple[str, str]] = []

    def take(rows: Iterable[tuple[Any, ...]]) -> None:
        for line, *_rest in list(rows)[:_MAX_GRANT_LINES]:
            grant = read_grant(line.decode() if isinstance(line, bytes) else str(line))
            if grant is not None:
                seen.add(grant.grantee)
                excess.update(grant.excess)
                pending.extend(grant.roles)

    cursor.execute("SHOW GRANTS")
    take(cursor.fetchall())
    asked = 0
    while pending:
        name, sql = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        asked += 1
        if asked > _MAX_ROLES:
            excess.add(f"role {sql} (more than {_MAX_ROLES} roles; not read)")
            continue
        try:
            cursor.execute(f"SHOW GRANTS FOR {sql}")
            take(cursor.fetchall())
        except Exception as error:
            if _client_error(error):
                raise
            excess.add(f"role {sql} (granted; its privileges are not visible to this user)")
    return ProbeUserGrants(tuple(sorted(excess)))


def _client_error(error: BaseException) -> bool:
    """A MySQL client-side error (2000-2999: the connection went away, timed out): says nothing about grants."""
    code = error.args[0] if error.args else None
    return isinstance(code, int) and 2000 <= code < 3000


class _GrantChecks:
    """Once per DSN per process: the grants of the DSN's user, read at its first connection. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: dict[str, ProbeUserGrants] = {}
        self._running: set[str] = set()

    def get(self, dsn: str) -> ProbeUserGrants | None:
        with self._lock:
            return self._found.get(dsn)

    def check_once(self, dsn: str, target: str, connection: Any) -> None:
        """Read the grants unless done (or being done) for ``dsn``; log what was found. Never raises."""
        with self._lock:
            if dsn in self._found or dsn in self._running:
                return
            self._running.add(dsn)
        try:
            try:
                with connection.cursor() as cursor:
                    found = _read_grants(cursor)
            except Exception as error:
                if _client_error(error):  # the query will report the connection's trouble; try again next time
                    return
                found = ProbeUserGrants(error=f"{type(error).__name__}: {str(error)[:200]}")
            with self._lock:
                self._found[dsn] = found
            _log_grants(target, dsn, found)
        except Exception:  # a bug here must not fail the run
            logger.exception("checking the grants of target %s failed", target)
        finally:
            with self._lock:
                self._running.discard(dsn)


def _log_grants(target: str, dsn: str, found: ProbeUserGrants) -> None:
    parts = urlsplit(dsn)
    where = {"target": target, "layer": "probe", "db_user": unquote(parts.username or ""),
             "database": parts.path.lstrip("/")}  # fmt: skip
    if found.error:
        logger.warning("sql steps on target %s: could not read the database user's grants (%s)", target,
                       found.error, extra=where)  # fmt: skip
    elif found.excess:
        logger.warning(
            "sql steps on target %s: the database user can do more than read: %s. Grant it SELECT only "
            "(README, sql steps)",
            target,
            ", ".join(found.excess[:20]),
            extra={**where, "excess_privileges": list(found.excess)},
        )
    else:
        logger.info("sql steps on target %s: the database user can only read", target, extra=where)


_GRANT_CHECKS = _GrantChecks()


def probe_user_grants(dsn: str) -> ProbeUserGrants | None:
    """What the first connection to ``dsn`` found about its user's grants; None before it (or for SQLite)."""
    return _GRANT_CHECKS.get(dsn)


# --- config -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlSpec:
    query: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


def dialect_of(dsn: str) -> str:
    """``sqlite`` for ``sqlite:///…`` DSNs, else ``mysql`` (``mysql://``, ``mariadb://``)."""
    return "sqlite" if urlsplit(dsn).scheme == "sqlite" else "mysql"


def parse(raw: Any, where: str, problems: Problems, targets: list[Target]) -> SqlSpec:
    if isinstance(raw, str):
        raw = {"query": raw}
    if not isinstance(raw, Mapping):
        problems.add(where, "sql must be a mapping with a query")
        return SqlSpec()
    for key in raw:
        if key not in ("query", "params"):
            problems.add(where, f"sql: {unknown('field', key, ('params', 'query'))}")
    query = raw.get("query")
    if not isinstance(query, str):
        problems.add(where, f"sql: query must be one read-only statement ({STATEMENTS}), got {query!r}")
        query = "SELECT 1"
    dialects = sorted({dialect_of(t.database) for t in targets if t.database}) or list(DIALECTS)
    for dialect in dialects:
        if problem := _check_cached(query, dialect):
            problems.add(where, f"sql: {problem}")
            break
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        problems.add(where, "sql: params must be a mapping")
        params = {}
    for name in _NAMED_PARAM.findall(query):
        if name not in params:
            problems.add(where, f"sql: the query uses %({name})s but params has no {name!r}")
    for target in targets:
        if target.database is None:
            problems.add(where, f"sql steps need a database on target {target.name!r} (database: {{dsn: ...}})")
    return SqlSpec(query=query.strip().rstrip(";").rstrip(), params=dict(params))


def parse_expect(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, Any]:
    allowed = {"rows", "min_rows", "values", "max_duration"}
    for key in raw:
        if key not in allowed:
            problems.add(where, f"expect: {unknown('assertion', key, allowed)} for sql")
    expect: dict[str, Any] = {}
    for key in ("rows", "min_rows"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add(where, f"expect.{key} must be a whole number, got {value!r}")
            else:
                expect[key] = value
    if "values" in raw:
        if not isinstance(raw["values"], Mapping):
            problems.add(where, "expect.values must map column names to expected values")
        else:
            expect["values"] = dict(raw["values"])
    return expect


def parse_extract(raw: Mapping[str, Any], where: str, problems: Problems) -> dict[str, dict[str, Any]]:
    extract: dict[str, dict[str, Any]] = {}
    for name, source in raw.items():
        if not isinstance(source, Mapping) or set(source) != {"column"}:
            problems.add(where, f"extract.{name}: sql steps extract with {{column: NAME}} from the first row")
            continue
        extract[str(name)] = {"column": str(source["column"])}
    return extract


def idempotent(spec: SqlSpec) -> bool:
    return True


# --- running ------------------------------------------------------------------------------------------------


def _same(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(actual, (int, float, Decimal)) and not isinstance(expected, bool):
        try:
            return Decimal(str(actual)) == Decimal(str(expected))
        except ArithmeticError:
            return False
    return str(actual) == str(expected)


_SQLITE_READS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _sqlite_authorizer(
    action: int, arg1: str | None, arg2: str | None, database: str | None, trigger: str | None
) -> int:
    """SQLite's authorizer: allow reading (SELECT, column reads, functions but ``_FUNCTIONS``, recursive CTEs);
    deny everything else a statement might do (ATTACH, PRAGMA, writes, DDL, transactions)."""
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").upper() in _FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _SQLITE_READS else sqlite3.SQLITE_DENY


def _query(
    dsn: str, sql: str, params: Mapping[str, Any], timeout: float, target: str = ""
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` read-only; (column names, rows). ``target`` names the grants warning of a first connection."""
    parts = urlsplit(dsn)
    deadline = time.monotonic() + timeout
    if parts.scheme == "sqlite":
        path = unquote(parts.path)[1:]  # sqlite:////abs/path or sqlite:///relative/path, as Django's DATABASE_URL
        absolute = os.path.abspath(path)
        try:  # quoted: a '?' or '#' in a file name must not end the path of the URI
            connection = sqlite3.connect(f"file:{quote(absolute)}?mode=ro", uri=True, timeout=timeout)
        except sqlite3.OperationalError as error:
            why = "no such file" if not os.path.exists(absolute) else "not a file" if os.path.isdir(absolute) else error
            relative = "" if os.path.isabs(path) else f" (the dsn's relative path {path!r}, from {os.getcwd()!r})"
            raise StepFailure("sql", f"cannot open the SQLite database {absolute!r}{relative}: {why}") from None
        # sqlite3's timeout only bounds waiting for locks; this interrupts a long query at the run's deadline.
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        # mode=ro does not stop ATTACH (creates a file) or VACUUM INTO (copies the database to a file).
        connection.set_authorizer(_sqlite_authorizer)
        try:
            cursor = connection.execute(_NAMED_PARAM.sub(r":\1", sql), dict(params))
            return [d[0] for d in cursor.description or ()], cursor.fetchall()
        except sqlite3.OperationalError as error:
            if time.monotonic() > deadline:
                raise StepFailure("timeout", f"the query was still running at the run's deadline ({error})") from None
            raise
        finally:
            connection.close()
    try:
        import MySQLdb
    except ImportError:
        raise StepFailure(
            "sql", "sql steps on MySQL need mysqlclient: pip install 'workflow-exporter[mysql]'"
        ) from None
    connection = MySQLdb.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        connect_timeout=max(1, int(timeout)),
        read_timeout=max(1, int(timeout + 0.999)),
        charset="utf8mb4",
        multi_statements=False,  # mysqlclient's default is on: a second statement would run
    )
    try:
        _GRANT_CHECKS.check_once(dsn, target, connection)
        with connection.cursor() as cursor:
            # Session-wide first: DDL commits implicitly and would run outside a bare read-only transaction.
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute(sql, dict(params) or None)
            rows = list(cursor.fetchall())
            columns = [d[0] for d in cursor.description or ()]
            cursor.execute("ROLLBACK")
            return columns, rows
    except MySQLdb.OperationalError as error:
        # read_timeout (the run's remaining time) ends a long query as "Lost connection", which is a timeout.
        if time.monotonic() >= deadline:
            raise StepFailure("timeout", f"the query was still running at the run's deadline ({error})") from None
        raise
    finally:
        connection.close()


def run(step: Step, spec: SqlSpec, context: RunContext, result: StepResult) -> None:
    dsn = context.target.database
    if not dsn:
        raise StepFailure("sql", f"target {context.target.name!r} has no database")
    # The load-time check again, for specs built in code: cached, so a scheduled run pays a dict lookup.
    if problem := _check_cached(spec.query, dialect_of(dsn)):
        raise StepFailure("sql", f"the query was not sent: {problem}")
    if not _SAFE_ID.fullmatch(context.correlation_id):
        raise StepFailure("internal", "the correlation ID cannot go into an SQL comment (letters, digits, -_.:)")
    params = context.render(spec.params)
    sql = f"/*request_id='{context.correlation_id}'*/ {spec.query}"
    result.exchange = Exchange(method="SQL", url=urlsplit(dsn)._replace(netloc=urlsplit(dsn).hostname or "").geturl(),
                               request_body=f"{spec.query}  -- params: {params}")  # fmt: skip
    remaining = context.remaining()
    if remaining <= 0:
        raise StepFailure("timeout", "the run's deadline passed before the query was sent")
    started = time.perf_counter()
    try:
        columns, rows = _query(dsn, sql, params, remaining, context.target.name)
    except StepFailure:
        raise
    except Exception as error:
        result.duration = time.perf_counter() - started
        text = str(error)
        reason = "timeout" if "timed out" in text.lower() or "timeout" in type(error).__name__.lower() else "sql"
        raise StepFailure(reason, f"{type(error).__name__}: {text[:300]}") from None
    result.duration = time.perf_counter() - started
    result.exchange.response_body = "\n".join([", ".join(columns), *(", ".join(map(str, row)) for row in rows[:20])])
    first = dict(zip(columns, rows[0], strict=False)) if rows else {}
    checks = result.assertions
    expect = step.expect
    if "rows" in expect:
        checks.append(
            AssertionResult("rows", len(rows) == expect["rows"], f"{len(rows)} rows, expected {expect['rows']}")
        )
    if "min_rows" in expect:
        checks.append(
            AssertionResult(
                "min_rows", len(rows) >= expect["min_rows"], f"{len(rows)} rows, at least {expect['min_rows']}"
            )
        )
    for column, expected_raw in expect.get("values", {}).items():
        expected = context.render(expected_raw)
        actual = first.get(column)
        ok = column in first and _same(actual, expected)
        checks.append(AssertionResult(f"value {column}", ok, f"{column} is {actual!r}, expected {expected!r}"))
    check_budget(step, result)
    fail_on_first_failed_check(result)
    for name, source in step.extract.items():
        if source["column"] not in first:
            raise StepFailure("extraction", f"{name}: column {source['column']!r} is not in the first row")
        value = first[source["column"]]
        value = str(value) if isinstance(value, Decimal) else value
        context.variables[name] = value
        result.extracted[name] = value
