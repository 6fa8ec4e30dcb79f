"""`SparkTables`: the workspace's tables on Spark, behind the `Transaction.execute` interface.

The detection stages take a `Transaction` and run DuckDB statements on it (`CREATE TABLE ...
AS`, `INSERT INTO ... [BY NAME] ... [ON CONFLICT DO NOTHING]`, `DROP TABLE`, queries). Given a
`SparkTables` instead, the same functions run on Spark: each statement is parsed (sqlglot),
its query translated (`dialect.to_spark`) and its effect applied to Spark tables:

- a table is a list of Parquet folders in the scratch folder (each write materialised once, so
  later queries read files, not an ever longer plan);
- a table the run did not create is read on first use: `events` straight from the
  workspace's committed batch files, any other from the workspace database (exported once);
- `write_back` stores what the run changed into the workspace database in the caller's DuckDB
  transaction: appended rows are inserted, replaced tables are replaced.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlglot import exp

from molehunt.events import EVENT_COLUMNS
from molehunt.spark.dialect import parse, to_spark
from molehunt.store.database import Store, Transaction

TABLES_VIEW = "molehunt_tables"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _spark_type(duckdb_type: str) -> str:
    return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")


def _duckdb_type(spark_type: str) -> str:
    return exp.DataType.build(spark_type, dialect="spark").sql(dialect="duckdb")


@dataclass
class _Table:
    """A table's content (Parquet folders) and what this run did to it."""

    schema: Any
    paths: list[str] = field(default_factory=list)
    new_paths: list[str] = field(default_factory=list)
    replaced: bool = False
    primary_key: tuple[str, ...] = ()
    ddl: str | None = None
    keep: bool = True


class SparkTables(Transaction):
    """Run detection statements on Spark over the workspace's tables.

    Args:
        session: The `pyspark.sql.SparkSession`.
        store: The workspace (read for tables the run did not create; written by
            `write_back`).
        scratch: A folder every Spark executor and the driver can read and write (the
            workspace's `.spark/<run>` folder: on a cluster, shared storage).
    """

    def __init__(self, session: Any, store: Store, scratch: Path) -> None:
        self._session = session
        self._store = store
        self.scratch = scratch
        self._tables: dict[str, _Table] = {}
        self._dropped: set[str] = set()
        self._serial = 0
        listed = store.query("SELECT table_name FROM duckdb_tables()")
        self._duckdb_tables = {str(row[0]) for row in listed}
        scratch.mkdir(parents=True, exist_ok=True)

    # -- the Transaction interface ---------------------------------------------------------

    def execute(self, sql: str, parameters: Any = None) -> list[tuple[Any, ...]]:
        """Run one DuckDB statement on Spark and return its rows (an INSERT: its row count).

        Args:
            sql: DuckDB SQL: CREATE TABLE, INSERT, DROP TABLE or a query.
            parameters: Not supported (the detection SQL inlines its values).

        Returns:
            The rows as tuples.

        Raises:
            ValueError: Parameters were given, or the statement is of a kind not supported.
        """
        if parameters:
            raise ValueError("SparkTables.execute takes no parameters")
        statement = parse(sql)
        if isinstance(statement, exp.Create):
            self._create(statement, sql)
            return []
        if isinstance(statement, exp.Insert):
            return [(self._insert(statement),)]
        if isinstance(statement, exp.Drop):
            for table in statement.args.get("tables") or [statement.this]:
                self._drop(table.name)
            return []
        if isinstance(statement, exp.Query):
            return [tuple(row) for row in self._frame_of(statement).collect()]
        raise ValueError(f"statement not supported on Spark: {sql.strip()[:80]}")

    # -- tables ----------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        """Tell whether a table exists (created by this run or in the workspace).

        Args:
            name: Table name.

        Returns:
            True when it exists and was not dropped.
        """
        return name not in self._dropped and (name in self._tables or name in self._duckdb_tables)

    def frame(self, name: str) -> Any:
        """Return a table's content as a Spark DataFrame.

        Args:
            name: Table name.

        Returns:
            The DataFrame.
        """
        table = self._table(name)
        reader = self._session.read.schema(table.schema)
        if table.paths:
            return reader.parquet(*table.paths)
        return self._session.createDataFrame([], table.schema)

    def attach_parquet(self, name: str, path: Path) -> None:
        """Expose a Parquet file as a table that `write_back` leaves alone.

        Args:
            name: Table name.
            path: The Parquet file (written on the driver, readable by executors).
        """
        schema = self._session.read.parquet(str(path)).schema
        self._tables[name] = _Table(schema, [str(path)], keep=False)
        self._dropped.discard(name)
        self._publish(name)

    def _table(self, name: str) -> _Table:
        if name in self._tables and name not in self._dropped:
            return self._tables[name]
        if name == "events":
            self._tables[name] = self._load_events()
        elif name in self._duckdb_tables and name not in self._dropped:
            path = self._path(name)
            self._store.query(
                f"COPY (SELECT * FROM {name}) TO {_sql_string(path)} (FORMAT parquet)"
            )
            schema = self._session.read.parquet(path).schema
            key = self._store.query(
                "SELECT constraint_column_names FROM duckdb_constraints() "
                "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                [name],
            )
            self._tables[name] = _Table(schema, [path], primary_key=tuple(key[0][0]) if key else ())
        else:
            raise ValueError(f"table {name!r} does not exist")
        self._publish(name)
        return self._tables[name]

    def _load_events(self) -> _Table:
        """The committed event batches, with the columns and types of the `events` view."""
        rows = self._store.query("SELECT file_name FROM batches ORDER BY batch_id")
        files = [str(self._store.root / str(name)) for (name,) in rows]
        columns = ", ".join(f"`{c.name}` {_spark_type(c.sql_type)}" for c in EVENT_COLUMNS)
        schema = self._session.createDataFrame([], columns).schema
        return _Table(schema, files, keep=False)

    def _publish(self, name: str) -> None:
        if name == "events":
            table = self._tables[name]
            raw = (
                self._session.read.option("mergeSchema", "true").parquet(*table.paths)
                if table.paths
                else self._session.createDataFrame([], table.schema)
            )
            present = set(raw.columns)
            columns = [
                f"CAST(`{f.name}` AS {f.dataType.simpleString()}) AS `{f.name}`"
                if f.name in present
                else f"CAST(NULL AS {f.dataType.simpleString()}) AS `{f.name}`"
                for f in table.schema.fields
            ]
            raw.selectExpr(*columns).createOrReplaceTempView(name)
            return
        self.frame(name).createOrReplaceTempView(name)

    def _path(self, name: str) -> str:
        self._serial += 1
        return str(self.scratch / f"{self._serial:05d}-{name}")

    def _materialise(self, frame: Any, name: str) -> tuple[str, int]:
        path = self._path(name)
        frame.write.mode("error").parquet(path)
        return path, int(self._session.read.parquet(path).count())

    # -- statements ------------------------------------------------------------------------

    def _frame_of(self, query: exp.Expr) -> Any:
        ctes = {cte.alias for cte in query.find_all(exp.CTE)}
        for table in query.find_all(exp.Table):
            name = table.name
            if name and not table.db and name not in ctes and name != TABLES_VIEW:
                self._table(name)
        if any(
            isinstance(t.this, exp.Anonymous) and t.this.name.lower() == "duckdb_tables"
            for t in query.find_all(exp.Table)
        ):
            names = sorted(n for n in self._duckdb_tables | set(self._tables) if self.exists(n))
            self._session.createDataFrame(
                [(n,) for n in names], "table_name STRING"
            ).createOrReplaceTempView(TABLES_VIEW)
        return self._session.sql(to_spark(query, TABLES_VIEW))

    def _create(self, statement: exp.Create, sql: str) -> None:
        if statement.args.get("kind", "").upper() != "TABLE":
            raise ValueError(f"only CREATE TABLE is supported on Spark: {sql.strip()[:80]}")
        target = statement.this
        schema_node = target if isinstance(target, exp.Schema) else None
        name = (schema_node.this if schema_node else target).name
        if statement.args.get("exists") and self.exists(name):
            return
        query = statement.expression
        if query is not None:
            limit = query.args.get("limit")
            frame = self._frame_of(query)
            if limit is not None and limit.expression.name == "0":
                # Only the shape: analysed, never run.
                table = _Table(frame.schema, [], [], True)
            else:
                path, _ = self._materialise(frame, name)
                table = _Table(self._session.read.parquet(path).schema, [path], [path], True)
        else:
            assert schema_node is not None
            columns: list[str] = []
            key: tuple[str, ...] = ()
            for column in schema_node.expressions:
                if isinstance(column, exp.ColumnDef):
                    columns.append(f"`{column.name}` {column.args['kind'].sql(dialect='spark')}")
                    if any(
                        isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint)
                        for c in column.args.get("constraints") or []
                    ):
                        key = (column.name,)
                elif isinstance(column, exp.PrimaryKey):
                    key = tuple(e.name for e in column.expressions)
            schema = self._session.createDataFrame([], ", ".join(columns)).schema
            table = _Table(schema, [], [], True, key, sql)
        self._tables[name] = table
        self._dropped.discard(name)
        self._publish(name)

    def _insert(self, statement: exp.Insert) -> int:
        target = statement.this
        name = (target.this if isinstance(target, exp.Schema) else target).name
        table = self._table(name)
        source = self._frame_of(statement.expression)
        fields = table.schema.fields
        if statement.args.get("by_name"):
            missing = set(source.columns) - {f.name for f in fields}
            if missing:
                raise ValueError(f"INSERT INTO {name} BY NAME: no column {sorted(missing)}")
            columns = [
                f"CAST(`{f.name}` AS {f.dataType.simpleString()}) AS `{f.name}`"
                if f.name in source.columns
                else f"CAST(NULL AS {f.dataType.simpleString()}) AS `{f.name}`"
                for f in fields
            ]
            source = source.selectExpr(*columns)
        else:
            if len(source.columns) != len(fields):
                raise ValueError(
                    f"INSERT INTO {name}: {len(source.columns)} columns for {len(fields)}"
                )
            source = source.toDF(*[f"_c{i}" for i in range(len(fields))]).selectExpr(
                *[
                    f"CAST(`_c{i}` AS {f.dataType.simpleString()}) AS `{f.name}`"
                    for i, f in enumerate(fields)
                ]
            )
        conflict = statement.args.get("conflict")
        if conflict is not None:
            if not table.primary_key:
                raise ValueError(f"INSERT INTO {name} ON CONFLICT: the table has no primary key")
            source = source.join(self.frame(name), list(table.primary_key), "left_anti")
        path, count = self._materialise(source, name)
        table.paths.append(path)
        table.new_paths.append(path)
        self._publish(name)
        return count

    def _drop(self, name: str) -> None:
        self._dropped.add(name)
        self._tables.pop(name, None)
        self._session.catalog.dropTempView(name)

    # -- results ---------------------------------------------------------------------------

    def write_back(self, connection: Transaction, names: tuple[str, ...] | None = None) -> None:
        """Store what this run changed into the workspace database.

        A table this run created or replaced replaces the workspace's (with the same DDL
        when it had an explicit one, so keys and types stay); rows appended to an existing
        table are inserted by column name. Written tables are then unchanged until the next
        write.

        Args:
            connection: An open DuckDB transaction of the workspace.
            names: Only these tables (None: every changed one).
        """
        for name, table in list(self._tables.items()):
            if not table.keep or (names is not None and name not in names):
                continue
            if not table.new_paths and not table.replaced:
                continue
            if table.replaced:
                connection.execute(f"DROP TABLE IF EXISTS {name}")
                if table.ddl is not None:
                    connection.execute(table.ddl)
                else:
                    columns = ", ".join(
                        f'"{f.name}" {_duckdb_type(f.dataType.simpleString())}'
                        for f in table.schema.fields
                    )
                    connection.execute(f"CREATE TABLE {name} ({columns})")
                pending = table.paths
            else:
                pending = table.new_paths
            pending = [p for p in pending if any(Path(p).glob("*.parquet"))]
            if pending:
                listing = ", ".join(_sql_string(f"{p}/*.parquet") for p in pending)
                connection.execute(
                    f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet([{listing}])"
                )
            self._duckdb_tables.add(name)
            table.new_paths = []
            table.replaced = False
        for name in self._dropped & self._duckdb_tables:
            connection.execute(f"DROP TABLE IF EXISTS {name}")

    def close(self) -> None:
        """Drop the views and delete the scratch folder."""
        for name in list(self._tables):
            self._session.catalog.dropTempView(name)
        shutil.rmtree(self.scratch, ignore_errors=True)
