"""What a statement is and what it touches, as ClickHouse's own parser sees it.

``formatQuery`` turns the text into one canonical statement (it refuses several statements), and
``EXPLAIN AST`` gives its syntax tree. The rules below run on that tree, never on the SQL text: they close
what an embedded read-only session still allows (files through the ``file()`` function and ``INTO OUTFILE``,
other databases, table functions beyond a few generators, session state shared by every client).
The session itself (``readonly=1``) is what refuses writes, settings changes and most table functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmpulse.clickhouse.http.errors import ACCESS_DENIED, READONLY, SUPPORT_IS_DISABLED, ClickHouseError

READ_ROOTS = ("SelectWithUnionQuery", "SelectIntersectExceptQuery", "ShowTables", "ShowColumns", "DescribeQuery",
              "ExistsTableQuery", "ExistsDatabaseQuery", "ExistsViewQuery", "ExistsDictionaryQuery",
              "ShowCreateTableQuery", "ShowCreateViewQuery", "ShowCreateDatabaseQuery", "Explain")  # fmt: skip
SAFE_TABLE_FUNCTIONS = {"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries",
                        "values", "view", "generaterandom", "null", "format"}  # fmt: skip
DENIED_FUNCTIONS = {"file", "catboostevaluate", "showcertificate", "getserversetting", "getclienthttpheader",
                    "getmacro", "joinget", "joingetornull", "evalmlmethod"}  # fmt: skip
DENIED_FUNCTION_PREFIXES = ("dictget", "dicthas", "dictisin")
IN_FUNCTIONS = {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"}
SYSTEM_TABLES = {"one", "numbers", "numbers_mt", "zeros", "zeros_mt", "settings", "databases", "tables", "columns",
                 "functions", "table_functions", "formats", "data_type_families", "table_engines", "time_zones",
                 "collations", "keywords", "data_skipping_indices"}  # fmt: skip


@dataclass
class Node:
    kind: str
    arg: str = ""
    children: list[Node] = field(default_factory=list)

    def walk(self) -> list[tuple[Node, Node | None]]:
        """Every (node, parent) of the tree."""
        out: list[tuple[Node, Node | None]] = [(self, None)]
        stack = [self]
        while stack:
            node = stack.pop()
            for child in node.children:
                out.append((child, node))
                stack.append(child)
        return out


def parse_tree(text: str) -> Node:
    """The tree of ``EXPLAIN AST`` output: one node a line, one space of indent a level."""
    root: Node | None = None
    path: list[Node] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        body = line.strip()
        for marker in (" (children ", " (alias "):
            cut = body.find(marker)
            if cut >= 0:
                body = body[:cut]
        kind, _, arg = body.partition(" ")
        node = Node(kind, arg.strip())
        if root is None:
            root = node
        else:
            del path[depth:]
            path[-1].children.append(node)
        path.append(node)
    if root is None:
        raise ClickHouseError((62, "SYNTAX_ERROR"), "Empty query")
    return root


def escape_param(value: str) -> str:
    """A String query parameter's text (ClickHouse reads parameter values in the escaped TSV form)."""
    return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
            .replace("\0", "\\0"))  # fmt: skip


def quote_ident(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Statement:
    canonical: str  # the one statement, as ClickHouse's formatter writes it
    root: Node
    format: str | None  # its FORMAT clause

    @property
    def is_insert(self) -> bool:
        return self.root.kind == "InsertQuery"

    @property
    def is_read(self) -> bool:
        return self.root.kind in READ_ROOTS

    def body_without_format(self) -> str:
        lines = self.canonical.rstrip("\n").split("\n")
        if self.format is not None:
            lines = lines[:-1]
        return "\n".join(lines)


def parse(session: Any, sql: str, params: dict[str, str]) -> Statement:
    """One statement, parsed by ClickHouse in ``session`` (which runs nothing the statement says)."""
    if not sql.strip():
        raise ClickHouseError((62, "SYNTAX_ERROR"), "Empty query")
    try:
        canonical = session.query("SELECT formatQuery({q:String})", "TabSeparatedRaw",
                                  params={"q": escape_param(sql)}).bytes().decode()  # fmt: skip
        tree = session.query("EXPLAIN AST " + canonical, "TabSeparatedRaw", params=params or None).bytes().decode()
    except Exception as exc:
        raise ClickHouseError.from_engine(exc) from exc
    canonical = canonical.rstrip("\n")
    root = parse_tree(tree)
    # the formatter writes a SELECT's FORMAT clause on a line of its own, an INSERT's at the end of its line
    last = canonical.split("\n")[-1]
    words = last.split()
    if root.kind == "InsertQuery":
        fmt = words[-1] if len(words) >= 2 and words[-2] == "FORMAT" else None
    else:
        fmt = words[1] if len(words) == 2 and words[0] == "FORMAT" else None
    return Statement(canonical, root, fmt)


def _table_allowed(name: str, database: str) -> bool:
    if "." not in name:
        return True  # the session's database (the llmpulse one) or a CTE
    db, table = name.split(".", 1)
    if db == database or db.lower() == "information_schema":
        return True
    return db == "system" and table in SYSTEM_TABLES


def check_read(stmt: Statement, user: str, database: str) -> None:
    """Refuse what a read must not do; raises ``ClickHouseError``."""
    root = stmt.root
    if not stmt.is_read:
        raise ClickHouseError(READONLY, f"{user}: Cannot execute query in readonly mode: {root.kind} is not a "
                                        "read (settings and the database go in the URL parameters)")  # fmt: skip
    if root.kind.startswith("Select") and any(c.kind == "Literal" for c in root.children):
        raise ClickHouseError(SUPPORT_IS_DISABLED, "INTO OUTFILE is not allowed over HTTP")
    for node, parent in root.walk():
        if node.kind == "Function":
            name = node.arg.lower()
            if parent is not None and parent.kind == "TableExpression":
                if name not in SAFE_TABLE_FUNCTIONS:
                    raise ClickHouseError(ACCESS_DENIED, f"{user}: Not enough privileges: the table function "
                                                         f"{node.arg}() is not allowed here")  # fmt: skip
            elif name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES):
                raise ClickHouseError(ACCESS_DENIED, f"{user}: Not enough privileges: the function "
                                                     f"{node.arg}() is not allowed here")  # fmt: skip
            if name in IN_FUNCTIONS and node.children and len(node.children[0].children) == 2:
                operand = node.children[0].children[1]
                if operand.kind == "Identifier" and not _table_allowed(operand.arg, database):
                    raise ClickHouseError(ACCESS_DENIED, f"{user}: Not enough privileges to read {operand.arg}")
        elif node.kind == "TableIdentifier" and not _table_allowed(node.arg, database):
            raise ClickHouseError(ACCESS_DENIED, f"{user}: Not enough privileges. To execute this query, it's "
                                                 f"necessary to have the grant SELECT ON {node.arg}")  # fmt: skip


@dataclass(frozen=True)
class InsertTarget:
    database: str
    table: str
    columns: tuple[str, ...]


def insert_target(stmt: Statement, user: str, database: str) -> InsertTarget:
    """``INSERT INTO [db.]table [(columns)] FORMAT X``, the rows in the body: into the llmpulse database only."""
    idents = [c.arg for c in stmt.root.children if c.kind == "Identifier"]
    lists = [c for c in stmt.root.children if c.kind == "ExpressionList"]
    others = [c for c in stmt.root.children if c.kind not in ("Identifier", "ExpressionList")]
    if others or len(lists) > 1 or not 1 <= len(idents) <= 2:
        raise ClickHouseError(ACCESS_DENIED, f"{user}: only INSERT INTO <table> [(columns)] FORMAT <format> with "
                                             "the rows in the request body is allowed (settings as URL "
                                             "parameters)")  # fmt: skip
    db, table = (idents[0], idents[1]) if len(idents) == 2 else (database, idents[0])
    if db != database:
        raise ClickHouseError(ACCESS_DENIED, f"{user}: Not enough privileges. To execute this query, it's "
                                             f"necessary to have the grant INSERT ON {db}.{table}")  # fmt: skip
    columns: list[str] = []
    for col in lists[0].children if lists else []:
        if col.kind != "Identifier":
            raise ClickHouseError(ACCESS_DENIED, f"{user}: name the columns of an INSERT plainly")
        columns.append(col.arg)
    return InsertTarget(db, table, tuple(columns))
