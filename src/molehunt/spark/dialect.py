"""DuckDB SQL -> Spark SQL at run time: sqlglot's transpiler plus the few rewrites it lacks.

The detection SQL is generated in Python for DuckDB (features, rules, scores); the Spark engine
runs the very same text after this translation, so the two engines cannot drift apart. sqlglot
(https://sqlglot.com) maps most of the dialect (`QUALIFY`, `list_filter`, `strftime`, `::`
casts, `GROUP BY ALL`, regular-expression literals); what it leaves DuckDB-shaped, or maps to
something Spark computes differently, is rewritten here on the parsed tree:

- `dayofweek`: DuckDB counts Sunday = 0, Spark Sunday = 1.
- `len(list)`: DuckDB's `len` is also a list's length; Spark's `length` is for strings only
  (a list is recognised as a column defined in the same statement as `list_filter`,
  `string_split` or a list literal).
- `list_last(list)`: Spark's `element_at(list, -1)`.
- `EXISTS (...)` outside a WHERE clause: `(SELECT count(*) ...) > 0` (Spark 4.3 fails to plan
  a correlated EXISTS in a select list).
- `CAST(unnest(...) AS T)`: Spark allows no generator inside an expression, so the cast moves
  into the list.
- `L ASOF JOIN R ON eq... AND L.a > R.b`: an inner join keeping, per row of L (the columns of L
  the condition names must identify a row of L), the match with the largest `R.b`; the query's
  WHERE applies after that choice, as in DuckDB.
- `quantile_cont(x, q)`: Spark's `percentile(x, q)` (both interpolate linearly).
- `duckdb_tables()`: the name of a view the caller provides (the tables the engine holds).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

ASOF_RANK = "_molehunt_asof_rank"
ASOF_KEEP = "_molehunt_asof_keep"
_LIST_MAKERS = (exp.ArrayFilter, exp.Split, exp.StringToArray, exp.Array)


def parse(sql: str) -> exp.Expr:
    """Parse one DuckDB statement.

    Args:
        sql: DuckDB SQL text.

    Returns:
        The statement's tree.
    """
    parsed = sqlglot.parse_one(sql, read="duckdb")
    assert parsed is not None
    return parsed


def to_spark(query: exp.Expr, tables_view: str = "molehunt_tables") -> str:
    """Return the Spark SQL text of a DuckDB query tree.

    Args:
        query: A parsed DuckDB query (SELECT, UNION or WITH ... SELECT).
        tables_view: The view that stands for `duckdb_tables()`.

    Returns:
        Spark SQL text.
    """
    tree = query.copy()
    lists = _list_columns(tree)
    tree = tree.transform(lambda node: _rewrite(node, lists, tables_view))
    for select in list(tree.find_all(exp.Select)):
        if any(join.args.get("method") == "ASOF" for join in select.args.get("joins") or []):
            if select is tree:
                tree = _asof(select)
            else:
                select.replace(_asof(select))
    return tree.sql(dialect="spark")


def _list_columns(tree: exp.Expr) -> set[str]:
    """Names the statement gives to list-valued expressions (`... AS recipients`)."""
    names: set[str] = set()
    for alias in tree.find_all(exp.Alias):
        value = alias.this
        branches = [value]
        if isinstance(value, exp.Case):
            branches = [branch.args.get("true") for branch in value.args.get("ifs") or []]
            branches.append(value.args.get("default"))
        if any(isinstance(b, _LIST_MAKERS) for b in branches if b is not None):
            names.add(alias.alias)
    return names


def _is_list(node: exp.Expr, lists: set[str]) -> bool:
    if isinstance(node, _LIST_MAKERS):
        return True
    return isinstance(node, exp.Column) and node.name in lists


def _rewrite(node: exp.Expr, lists: set[str], tables_view: str) -> exp.Expr:
    if isinstance(node, exp.DayOfWeek):
        return exp.Paren(this=exp.Sub(this=node.copy(), expression=exp.Literal.number(1)))
    if isinstance(node, exp.Length) and _is_list(node.this, lists):
        return exp.func("size", node.this.copy())
    if isinstance(node, exp.Anonymous) and node.name.lower() == "list_last":
        return exp.func("element_at", node.expressions[0].copy(), exp.Literal.number(-1))
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return exp.func("percentile", node.this.copy(), node.expression.copy())
    if isinstance(node, exp.Exists) and not node.find_ancestor(exp.Where):
        counted = node.this.copy()
        counted.set("expressions", [exp.Count(this=exp.Star())])
        return exp.Paren(
            this=exp.GT(this=exp.Subquery(this=counted), expression=exp.Literal.number(0))
        )
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Explode | exp.Unnest):
        inner = node.this.this if isinstance(node.this, exp.Explode) else node.this.expressions[0]
        item = exp.to_identifier("_molehunt_item")
        cast = exp.Cast(this=exp.column(item), to=node.args["to"].copy())
        mapped = exp.Transform(
            this=inner.copy(), expression=exp.Lambda(this=cast, expressions=[item])
        )
        return exp.Explode(this=mapped)
    if (
        isinstance(node, exp.Table)
        and isinstance(node.this, exp.Anonymous)
        and node.this.name.lower() == "duckdb_tables"
    ):
        return exp.to_table(tables_view)
    return node


def _asof(select: exp.Select) -> exp.Expr:
    """Rewrite a SELECT with one ASOF join into a join, a rank per left row and a filter."""
    select = select.copy()
    joins = select.args["joins"]
    join = next(j for j in joins if j.args.get("method") == "ASOF")
    left_name = select.args["from_"].this.alias_or_name
    condition = join.args["on"]
    equalities, inequality = [], None
    for part in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        if isinstance(part, exp.GT | exp.GTE | exp.LT | exp.LTE):
            inequality = part
        else:
            equalities.append(part)
    if inequality is None:
        raise ValueError(f"ASOF JOIN without an inequality: {condition.sql('duckdb')}")
    left_side = inequality.this if inequality.this.table == left_name else inequality.expression
    right_side = inequality.expression if left_side is inequality.this else inequality.this
    # L.a > R.b (or R.b < L.a): the nearest match has the largest R.b.
    descending = (left_side is inequality.this) == isinstance(inequality, exp.GT | exp.GTE)
    keys = [c.copy() for c in condition.find_all(exp.Column) if c.table == left_name]
    window = exp.Window(
        this=exp.RowNumber(),
        partition_by=keys,
        order=exp.Order(expressions=[exp.Ordered(this=right_side.copy(), desc=descending)]),
    )
    join.set("method", None)
    where = select.args.get("where")
    select.set("where", None)
    names = [projection.alias_or_name for projection in select.expressions]
    select.select(exp.alias_(window, ASOF_RANK), copy=False)
    keep = where.this.copy() if where is not None else exp.true()
    select.select(exp.alias_(keep, ASOF_KEEP), copy=False)
    outer = exp.select(*names).from_(select.subquery("_molehunt_asof"))
    return outer.where(
        exp.and_(
            exp.EQ(this=exp.column(ASOF_RANK), expression=exp.Literal.number(1)),
            exp.column(ASOF_KEEP),
        )
    )
