"""DuckDB SQL translated for Spark gives DuckDB's answer: each rewrite, run on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from molehunt.store import Store

pytest.importorskip("sqlglot")

from molehunt.spark.dialect import parse, to_spark  # noqa: E402

TWO_USERS = "(VALUES ('u', DATE '2024-01-02'), ('v', DATE '2024-01-01')) t(user, day)"
CASES = {
    # DuckDB counts Sunday as 0, Spark as 1.
    "dayofweek": "SELECT dayofweek(DATE '2024-01-07') AS sunday, "
    "dayofweek(DATE '2024-01-13') AS saturday",
    # len() of a list is Spark's size(); length() of a string stays length().
    "list length and last": "WITH t AS (SELECT list_filter(string_split('a;b;;c', ';'), "
    "lambda r: r <> '') AS recipients) SELECT len(recipients) AS n, list_last(recipients) "
    "AS last, length('abcd') AS chars FROM t",
    "exists in a select list": f"WITH a AS (SELECT * FROM {TWO_USERS}), "
    "b AS (SELECT 'u' AS user, DATE '2024-01-01' AS day) "
    "SELECT a.user, EXISTS (SELECT 1 FROM b WHERE b.user = a.user AND b.day < a.day) AS seen "
    "FROM a ORDER BY a.user",
    "cast of unnest": "SELECT CAST(unnest(generate_series(DATE '2024-01-01', "
    "DATE '2024-01-20', INTERVAL 7 DAY)) AS DATE) AS week ORDER BY week",
    # The nearest earlier row wins; the WHERE filters after the choice (total 1 < 3 drops
    # week 3, though week 1's total 5 would pass).
    "asof join": "WITH grid AS (SELECT * FROM (VALUES (DATE '2024-01-08', 'u'), "
    "(DATE '2024-01-15', 'u'), (DATE '2024-01-22', 'u')) g(week, user)), "
    "running AS (SELECT * FROM (VALUES (DATE '2024-01-01', 'u', 5), (DATE '2024-01-15', 'u', 1))"
    " r(week, user, total)) SELECT grid.week, grid.user, running.total FROM grid "
    "ASOF JOIN running ON running.user = grid.user AND grid.week > running.week "
    "WHERE running.total >= 3 ORDER BY grid.week",
    "regular expressions with backslashes": r"SELECT regexp_extract('C:\dir\File.txt', "
    r"'[^\\/]+$') AS file, regexp_replace('www.a.www.com', '^www\.', '') AS host, "
    r"regexp_matches('x.exe', '\.(exe|dll)$') AS exe, regexp_matches('xexe', '\.(exe)$') AS no",
    "quantile": "SELECT quantile_cont(x, 0.75) AS q FROM (VALUES (1.0), (2.0), (4.0), (8.0)) t(x)",
    "dates": "SELECT strftime(DATE '2024-03-05', '%Y-%m') AS month, "
    "CAST(date_trunc('week', DATE '2024-03-07') AS DATE) AS monday, DATE '2024-03-01' + 1 AS d, "
    "hour(TIMESTAMP '2024-03-01 21:15:00') AS h",
    "filtered aggregates, qualify": f"SELECT user, count(*) FILTER "
    f"(WHERE day > DATE '2024-01-01') AS later, count(DISTINCT day) AS days FROM {TWO_USERS} "
    "GROUP BY user QUALIFY row_number() OVER (ORDER BY user) = 1",
    "group by all": f"SELECT user, max(day) AS last FROM {TWO_USERS} GROUP BY ALL ORDER BY user",
}


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@pytest.mark.parametrize("sql", CASES.values(), ids=list(CASES))
def test_to_spark_query_gives_duckdbs_rows(sql: str, spark: Any, store: Store) -> None:
    expected = [tuple(_normal(v) for v in row) for row in store.query(sql)]
    got = [tuple(_normal(v) for v in row) for row in spark.sql(to_spark(parse(sql))).collect()]
    assert got == expected


def test_to_spark_asof_without_inequality_is_refused() -> None:
    sql = "SELECT * FROM a ASOF JOIN b ON a.k = b.k"
    with pytest.raises(ValueError, match="ASOF JOIN without an inequality"):
        to_spark(parse(sql))
