"""Read-only SQL for the embedded lake: Spark's own parser decides whether a statement only reads.

`lakesync query` and the verification checks send SQL to the load runner, whose SparkSession
also runs the loads. A statement runs only when its parsed plan is on an allow-list: a query
built from query operators (SELECT, WITH ... SELECT, VALUES, TABLE, set operations, joins,
subqueries), a catalog read (SHOW ..., DESCRIBE ...), or EXPLAIN / DESCRIBE QUERY of such a
query. Everything else (INSERT, MERGE, UPDATE, DELETE, DDL, Iceberg CALL procedures, SET, USE,
CACHE, ADD JAR, temporary views, also when hidden behind a CTE or a comment) is refused before
Spark runs anything, and so are two functions that reach outside a query: SELECT TRANSFORM
(runs a program) and reflect / java_method (call Java methods).
"""
from __future__ import annotations

import re
from typing import Any

_LOGICAL = "org.apache.spark.sql.catalyst.plans.logical."
_ANALYSIS = "org.apache.spark.sql.catalyst.analysis."
_COMMAND = "org.apache.spark.sql.execution.command."

# The operators the parser builds a query from (plans are checked before analysis).
QUERY_NODES = frozenset(
    [
        _LOGICAL + name
        for name in (
            "Aggregate", "Distinct", "Except", "Filter", "Generate", "GlobalLimit", "Intersect", "Join",
            "LateralJoin", "LocalLimit", "Offset", "OneRowRelation", "Pivot", "Project",
            "RebalancePartitions", "Repartition", "RepartitionByExpression", "Sample", "Sort",
            "SubqueryAlias", "Tail", "Union", "Unpivot", "UnresolvedHint", "UnresolvedWith",
            "WithWindowDefinition",
        )
    ]
    + [
        _ANALYSIS + name
        for name in (
            "PlanWithUnresolvedIdentifier", "RelationTimeTravel", "UnresolvedHaving",
            "UnresolvedInlineTable", "UnresolvedRelation", "UnresolvedSubqueryColumnAliases",
            "UnresolvedTVFAliases", "UnresolvedTableValuedFunction",
        )
    ]
)

# Statements that only read the catalog; their children merely name a table, view or namespace.
CATALOG_READS = frozenset(
    [
        _LOGICAL + name
        for name in (
            "DescribeColumn", "DescribeFunction", "DescribeNamespace", "DescribeRelation", "ShowColumns",
            "ShowCreateTable", "ShowFunctions", "ShowNamespaces", "ShowPartitions", "ShowTableExtended",
            "ShowTableProperties", "ShowTables", "ShowViews", "views.ShowIcebergViews",
        )
    ]
    + [_COMMAND + name for name in ("ShowCatalogsCommand", "ShowCurrentNamespaceCommand")]
)

# Statements around a query, with the accessor of that query: it must pass as a query itself.
QUERY_WRAPPERS = {_COMMAND + "ExplainCommand": "logicalPlan", _COMMAND + "DescribeQueryCommand": "plan"}

_UNRESOLVED_FUNCTION = _ANALYSIS + "UnresolvedFunction"
# A function named at analysis time (IDENTIFIER('...')(args)) could be one of JAVA_CALLS.
_DYNAMIC_FUNCTION = _ANALYSIS + "ExpressionWithUnresolvedIdentifier"
JAVA_CALLS = frozenset({"reflect", "java_method"})
_WINDOW_DEFINITIONS = _LOGICAL + "WithWindowDefinition"
# reflect / java_method once analyzed, wherever the parsed plan held them.
_JAVA_CALL = "org.apache.spark.sql.catalyst.expressions.CallMethodViaReflection"

# Readable names for the plans a refusal names most often; others are spelled from the class.
_KINDS = {
    "InsertIntoStatement": "INSERT",
    "InsertIntoDir": "INSERT OVERWRITE DIRECTORY",
    "DeleteFromTable": "DELETE",
    "UpdateTable": "UPDATE",
    "MergeIntoTable": "MERGE",
    "CallStatement": "Iceberg CALL",
    "SetCatalogAndNamespace": "USE",
    "AddColumns": "ALTER TABLE ADD COLUMNS",
    "SetTableProperties": "ALTER TABLE SET TBLPROPERTIES",
    "CreateOrReplaceBranch": "ALTER TABLE CREATE BRANCH",
    "CreateOrReplaceTag": "ALTER TABLE CREATE TAG",
    "CreateViewCommand": "CREATE VIEW",
    "ScriptTransformation": "SELECT TRANSFORM ... USING 'script'",
}

READ_ONLY_FORMS = "SELECT, WITH ... SELECT, VALUES, TABLE, SHOW, DESCRIBE and EXPLAIN of a query"


class ReadOnlyRefused(Exception):
    """A statement the read-only query path does not run; the message names it and why."""


def statement_kind(class_name: str) -> str:
    """`org...DropNamespace` -> "DROP NAMESPACE": the statement as a user wrote it, roughly."""
    simple = class_name.rsplit(".", 1)[-1].rstrip("$")
    if simple in _KINDS:
        return _KINDS[simple]
    base = re.sub(r"(Command|Statement)$", "", simple) or simple
    return " ".join(word.upper() for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", base))


def _refused(class_name: str) -> ReadOnlyRefused:
    simple = class_name.rsplit(".", 1)[-1].rstrip("$")
    return ReadOnlyRefused(
        f"lakesync query is read-only and does not run {statement_kind(class_name)} statements ({simple}). "
        f"It runs {READ_ONLY_FORMS}; the lake changes only through lakesync sync and rerun"
    )


def _seq(scala_seq: Any) -> list[Any]:
    return [scala_seq.apply(i) for i in range(scala_seq.size())]


def _class(node: Any) -> str:
    return str(node.getClass().getName())


def _check_expressions(node: Any) -> None:
    stack = _seq(node.expressions())
    if _class(node) == _WINDOW_DEFINITIONS:
        # WINDOW w AS (...): the specs are held in a map that expressions() leaves out.
        stack.extend(_seq(node.windowDefinitions().values().toSeq()))
    while stack:
        expression = stack.pop()
        name = _class(expression)
        if name == _DYNAMIC_FUNCTION:
            raise ReadOnlyRefused(
                "lakesync query is read-only: a function named with IDENTIFIER(...) is not run, as it could name "
                "reflect or java_method; write the function's name"
            )
        if name == _UNRESOLVED_FUNCTION:
            function = str(expression.nameParts().last()).lower()
            if function in JAVA_CALLS:
                raise ReadOnlyRefused(
                    f"lakesync query is read-only: {function}() calls Java methods, which can change files or "
                    f"settings of the load runner; it runs {READ_ONLY_FORMS} without {function}"
                )
        stack.extend(_seq(expression.children()))


def _check_query(plan: Any) -> None:
    """Every operator of the plan, its CTEs and its subqueries is a query operator."""
    stack = [plan]
    while stack:
        node = stack.pop()
        name = _class(node)
        if name not in QUERY_NODES:
            raise _refused(name)
        _check_expressions(node)
        # innerChildren holds the CTE definitions and the subqueries of expressions.
        stack.extend(_seq(node.children()) + _seq(node.innerChildren()))


def check_plan(plan: Any) -> None:
    """Raises ReadOnlyRefused unless the parsed plan only reads."""
    name = _class(plan)
    if name in CATALOG_READS:
        return
    if name in QUERY_WRAPPERS:
        _check_query(getattr(plan, QUERY_WRAPPERS[name])())
        return
    _check_query(plan)


def assert_no_java_calls(analyzed: Any) -> None:
    """A second fence after analysis, before anything runs: no operator, subquery or expression calls Java methods."""
    plans = [analyzed]
    while plans:
        plan = plans.pop()
        expressions = _seq(plan.expressions())
        while expressions:
            expression = expressions.pop()
            if _class(expression) == _JAVA_CALL:
                raise ReadOnlyRefused(
                    "lakesync query is read-only: reflect() / java_method() call Java methods, which can change files "
                    f"or settings of the load runner; it runs {READ_ONLY_FORMS} without them"
                )
            expressions.extend(_seq(expression.children()))
        # innerChildren holds the plans of subqueries (and of CTE definitions).
        plans.extend(_seq(plan.children()) + _seq(plan.innerChildren()))


def statement_count(sql: str) -> int:
    """Statements in the text, by Spark's lexical rules: `;` outside strings, quoted names and comments."""
    count, content, i, n = 0, False, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"`":
            # R'...' is a raw string: a backslash escapes nothing there.
            raw = c != "`" and i > 0 and sql[i - 1] in "rR" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            i += 1
            while i < n and sql[i] != c:
                i += 2 if sql[i] == "\\" and c != "`" and not raw else 1
            content = True
        elif sql.startswith("--", i):
            while i < n and sql[i] not in "\r\n":
                i += 1
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        elif c == ";":
            count, content = count + (1 if content else 0), False
        elif not c.isspace():
            content = True
        i += 1
    return count + (1 if content else 0)


def assert_read_only(spark: Any, sql: str) -> None:
    """Parses `sql` with the session's parser (Iceberg's extensions included) and refuses all but reads.

    Spark's parse errors are raised as PySpark's ParseException; several statements are refused
    as such, as Spark parses one statement at a time.
    """
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import ParseException
    from pyspark.errors.exceptions.captured import convert_exception

    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(sql)
    except (ParseException, Py4JJavaError) as exc:
        count = statement_count(sql)
        if count > 1:
            raise ReadOnlyRefused(
                f"lakesync query is read-only and runs one statement at a time: this text holds {count} statements "
                f"separated by ';'. It runs {READ_ONLY_FORMS}"
            ) from None
        # PySpark converts JVM errors on its own calls; a bare py4j error is converted here.
        if isinstance(exc, Py4JJavaError):
            raise convert_exception(exc.java_exception) from None
        raise
    check_plan(plan)
