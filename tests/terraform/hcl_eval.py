"""A small, lazy evaluator of the Terraform this repository writes, enough to resolve IAM policies.

It parses each module with python-hcl2's grammar and evaluates expressions on demand: variables (inputs
or defaults), locals, module calls (count and for_each included), outputs, resource arguments and the
computed attributes the policies use (ARNs, ids), and the functions the modules call. A computed
attribute or function it does not know raises `Unresolved` naming it, so the checks built on it fail
loudly instead of guessing. ARNs are built the way AWS documents them for each resource type.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree


class Unresolved(Exception):
    """An expression needs something this evaluator does not model."""


@dataclass(frozen=True)
class Account:
    """Where the evaluated deployment lives."""

    partition: str = "aws"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    dns_suffix: str = "amazonaws.com"


def _trees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def _name(node: Tree) -> str:
    """The text of an identifier (or a quoted block label)."""
    if node.data in ("identifier", "keyword"):
        return str(node.children[0])
    if node.data == "string":
        return "".join(str(p.children[0]) for p in _trees(node))
    if node.data == "expr_term":
        return _name(_trees(node)[0])
    raise Unresolved(f"not a name: {node.data}")


def _unescape(text: str) -> str:
    return (
        text.replace("$${", "${")
        .replace("%%{", "%{")
        .replace('\\"', '"')
        .replace("\\n", "\n")
        .replace("\\\\", "\\")
    )


@dataclass
class Block:
    kind: str
    labels: list[str]
    attributes: dict[str, Tree]
    blocks: list[Block]


def _block(node: Tree) -> Block:
    parts = _trees(node)
    kind = _name(parts[0])
    labels = [_name(p) for p in parts[1:-1]]
    attributes, blocks = _body(parts[-1])
    return Block(kind, labels, attributes, blocks)


def _body(body: Tree) -> tuple[dict[str, Tree], list[Block]]:
    attributes: dict[str, Tree] = {}
    blocks: list[Block] = []
    for child in _trees(body):
        if child.data == "attribute":
            name, expr = _trees(child)
            attributes[_name(name)] = expr
        elif child.data == "block":
            blocks.append(_block(child))
    return attributes, blocks


def parse_dir(path: Path) -> list[Block]:
    """Every top-level block of the module in `path` (its *.tf files)."""
    found: list[Block] = []
    for tf in sorted(path.glob("*.tf")):
        tree = hcl2.parses_to_tree(tf.read_text(encoding="utf-8"))
        found.extend(_body(_trees(tree)[0])[1])
    return found


# ---- values that resolve on access -----------------------------------------------------------------


class Namespace:
    """`var`, `local`, `module`, a resource type...: an attribute is evaluated when first read."""

    def __init__(self, what: str, names: Iterator[str] | list[str], get: Callable[[str], Any]) -> None:
        self.what, self.names, self._get, self._seen = what, list(names), get, {}

    def attr(self, name: str) -> Any:
        if name not in self.names:
            raise Unresolved(f"{self.what}.{name} is not declared")
        if name not in self._seen:
            self._seen[name] = self._get(name)
        return self._seen[name]


# Computed attributes per resource type, from its evaluated arguments (AWS's ARN formats:
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
def _computed(kind: str, args: Callable[[str], Any], acct: Account) -> dict[str, Callable[[], Any]]:
    p, r, a = acct.partition, acct.region, acct.account_id
    lam = f"arn:{p}:lambda:{r}:{a}:function"
    table: dict[str, dict[str, Callable[[], Any]]] = {
        "aws_lambda_function": {
            "arn": lambda: f"{lam}:{args('function_name')}",
            "version": lambda: "1",
            "qualified_arn": lambda: f"{lam}:{args('function_name')}:1",
        },
        "aws_lambda_alias": {"arn": lambda: f"{lam}:{args('function_name')}:{args('name')}"},
        "aws_sfn_state_machine": {"arn": lambda: f"arn:{p}:states:{r}:{a}:stateMachine:{args('name')}"},
        "aws_cloudwatch_log_group": {"arn": lambda: f"arn:{p}:logs:{r}:{a}:log-group:{args('name')}"},
        "aws_iam_role": {"arn": lambda: f"arn:{p}:iam::{a}:role/{args('name')}", "id": lambda: args("name")},
        "aws_s3_bucket": {"arn": lambda: f"arn:{p}:s3:::{args('bucket')}", "id": lambda: args("bucket")},
        "aws_dynamodb_table": {"arn": lambda: f"arn:{p}:dynamodb:{r}:{a}:table/{args('name')}"},
        "aws_sns_topic": {"arn": lambda: f"arn:{p}:sns:{r}:{a}:{args('name')}"},
        "aws_sqs_queue": {
            "arn": lambda: f"arn:{p}:sqs:{r}:{a}:{args('name')}",
            "url": lambda: f"https://sqs.{r}.{acct.dns_suffix}/{a}/{args('name')}",
        },
        "aws_api_gateway_rest_api": {
            "id": lambda: "a1b2c3d4e5",
            "execution_arn": lambda: f"arn:{p}:execute-api:{r}:{a}:a1b2c3d4e5",
        },
        "aws_partition": {"partition": lambda: p, "dns_suffix": lambda: acct.dns_suffix},
        "aws_caller_identity": {"account_id": lambda: a},
        "aws_region": {"name": lambda: r, "region": lambda: r},
    }
    return table.get(kind, {})


class Instance:
    """One resource or data source instance: its arguments, then its computed attributes."""

    def __init__(self, module: Module, block: Block, scope: dict[str, Any], address: str) -> None:
        self.module, self.block, self.scope, self.address = module, block, scope, address

    def arg(self, name: str) -> Any:
        if name not in self.block.attributes:
            raise Unresolved(f"{self.address}.{name} is not set")
        return self.module.eval(self.block.attributes[name], self.scope)

    def attr(self, name: str) -> Any:
        if name in self.block.attributes:
            return self.arg(name)
        computed = _computed(self.block.labels[0], self.arg, self.module.account).get(name)
        if computed is None:
            raise Unresolved(f"{self.address}.{name}: a computed attribute the evaluator does not model")
        return computed()


class Module:
    """One instance of a module directory, with its inputs (evaluated lazily in the caller)."""

    def __init__(
        self, path: Path, inputs: dict[str, Callable[[], Any]], account: Account, address: str = ""
    ) -> None:
        self.path, self.inputs, self.account, self.address = path.resolve(), inputs, account, address
        self.blocks = parse_dir(self.path)
        unknown = set(inputs) - {b.labels[0] for b in self.of("variable")}
        if unknown:
            raise Unresolved(f"{self.address or self.path}: no variable {sorted(unknown)}")

    def of(self, kind: str) -> list[Block]:
        return [b for b in self.blocks if b.kind == kind]

    # ---- namespaces ---------------------------------------------------------------------------------

    def variable(self, name: str) -> Any:
        if name in self.inputs:
            value = self.inputs[name]()
            if value is not None:
                return value
        block = next(b for b in self.of("variable") if b.labels[0] == name)
        if "default" not in block.attributes:
            raise Unresolved(f"{self.address}: variable {name} has no value")
        return self.eval(block.attributes["default"], {})

    @cached_property
    def locals_exprs(self) -> dict[str, Tree]:
        found: dict[str, Tree] = {}
        for block in self.of("locals"):
            found.update(block.attributes)
        return found

    @cached_property
    def namespaces(self) -> dict[str, Any]:
        ns: dict[str, Any] = {
            "var": Namespace("var", [b.labels[0] for b in self.of("variable")], self.variable),
            "local": Namespace(
                "local", list(self.locals_exprs), lambda n: self.eval(self.locals_exprs[n], {})
            ),
            "module": Namespace("module", [b.labels[0] for b in self.of("module")], self.module_call),
            "path": {"module": str(self.path), "root": str(self.path)},
        }
        kinds = {b.labels[0] for b in self.of("resource")}
        for kind in kinds:
            ns[kind] = Namespace(
                kind, [b.labels[1] for b in self._typed("resource", kind)], self._resource(kind)
            )
        data_kinds = {b.labels[0] for b in self.of("data")}
        ns["data"] = {
            kind: Namespace(
                f"data.{kind}", [b.labels[1] for b in self._typed("data", kind)], self._data(kind)
            )
            for kind in data_kinds
        }
        return ns

    def _typed(self, kind: str, type_: str) -> list[Block]:
        return [b for b in self.of(kind) if b.labels[0] == type_]

    def output(self, name: str) -> Any:
        block = next((b for b in self.of("output") if b.labels[0] == name), None)
        if block is None:
            raise Unresolved(f"{self.address}: no output {name}")
        return self.eval(block.attributes["value"], {})

    def attr(self, name: str) -> Any:
        return self.output(name)

    # ---- repeated things: count and for_each ----------------------------------------------------

    def _instances(self, block: Block, make: Callable[[dict[str, Any], str], Any], address: str) -> Any:
        if "count" in block.attributes:
            n = int(self.eval(block.attributes["count"], {}))
            return [make({"count": {"index": i}}, f"{address}[{i}]") for i in range(n)]
        if "for_each" in block.attributes:
            each = self.eval(block.attributes["for_each"], {})
            items = each.items() if isinstance(each, dict) else ((k, k) for k in each)
            return {k: make({"each": {"key": k, "value": v}}, f'{address}["{k}"]') for k, v in sorted(items)}
        return make({}, address)

    def module_call(self, name: str) -> Any:
        block = next(b for b in self.of("module") if b.labels[0] == name)
        source = self.path / self.eval(block.attributes["source"], {})
        meta = {"source", "count", "for_each", "depends_on", "providers"}

        def make(scope: dict[str, Any], address: str) -> Module:
            inputs = {
                k: (lambda expr=v: self.eval(expr, scope))
                for k, v in block.attributes.items()
                if k not in meta
            }
            return Module(source, inputs, self.account, f"{self.address}{address}")

        return self._instances(block, make, f"module.{name}")

    def _resource(self, kind: str) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            block = next(b for b in self._typed("resource", kind) if b.labels[1] == name)
            return self._instances(
                block, lambda s, a: Instance(self, block, s, f"{self.address}{a}"), f"{kind}.{name}"
            )

        return get

    def _data(self, kind: str) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            block = next(b for b in self._typed("data", kind) if b.labels[1] == name)
            return Instance(self, block, {}, f"{self.address}data.{kind}.{name}")

        return get

    def resources(self, kind: str) -> Iterator[Instance]:
        """Every instance of every resource of type `kind` in this module."""
        for block in self._typed("resource", kind):
            found = self.namespaces[kind].attr(block.labels[1])
            yield from (
                found if isinstance(found, list) else found.values() if isinstance(found, dict) else [found]
            )

    def module_instances(self) -> Iterator[Module]:
        """This module and every module under it, depth first."""
        yield self
        for block in self.of("module"):
            found = self.namespaces["module"].attr(block.labels[0])
            children = (
                found if isinstance(found, list) else found.values() if isinstance(found, dict) else [found]
            )
            for child in children:
                yield from child.module_instances()

    # ---- expressions ----------------------------------------------------------------------------

    def eval(self, node: Tree, scope: dict[str, Any]) -> Any:
        handler = getattr(self, f"_e_{node.data}", None)
        if handler is None:
            raise Unresolved(f"{self.address}: expression {node.data} is not supported")
        return handler(node, scope)

    def _e_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        return self.eval(_trees(node)[0], scope)

    def _e_int_lit(self, node: Tree, scope: dict[str, Any]) -> Any:
        return int(str(node.children[0]))

    def _e_float_lit(self, node: Tree, scope: dict[str, Any]) -> Any:
        return float(str(node.children[0]))

    def _e_literal_value(self, node: Tree, scope: dict[str, Any]) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _e_string(self, node: Tree, scope: dict[str, Any]) -> Any:
        parts = []
        for part in _trees(node):
            inner = part.children[0]
            if isinstance(inner, Token):
                parts.append(_unescape(str(inner)))
                continue
            value = self.eval(_trees(inner)[0], scope)
            parts.append(_to_string(value))
        return "".join(parts)

    def _e_heredoc_template(self, node: Tree, scope: dict[str, Any]) -> Any:
        raise Unresolved("heredoc templates are not supported")

    def _e_tuple(self, node: Tree, scope: dict[str, Any]) -> Any:
        return [self.eval(c, scope) for c in _trees(node)]

    def _e_object(self, node: Tree, scope: dict[str, Any]) -> Any:
        out: dict[str, Any] = {}
        for elem in _trees(node):
            key_node, value_node = _trees(elem)
            key_expr = _trees(key_node)[0]
            inner = _trees(key_expr)[0] if key_expr.data == "expr_term" else key_expr
            key = _name(inner) if inner.data == "identifier" else self.eval(key_expr, scope)
            out[str(key)] = self.eval(value_node, scope)
        return out

    def _e_identifier(self, node: Tree, scope: dict[str, Any]) -> Any:
        name = _name(node)
        if name in scope:
            return scope[name]
        if name in self.namespaces:
            return self.namespaces[name]
        raise Unresolved(f"{self.address}: unknown name {name}")

    def _e_get_attr_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        base, get = _trees(node)
        return _get(self.eval(base, scope), _name(_trees(get)[0]))

    def _e_index_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        base, index = _trees(node)
        return _index(self.eval(base, scope), self._index_key(index, scope))

    def _index_key(self, index: Tree, scope: dict[str, Any]) -> Any:
        if index.data == "short_index":
            return int(str(index.children[-1]))
        return self.eval(_trees(index)[0], scope)

    def _e_full_splat_expr_term(self, node: Tree, scope: dict[str, Any]) -> Any:
        base, splat = _trees(node)
        value = self.eval(base, scope)
        items = [] if value is None else value if isinstance(value, list) else [value]
        out = []
        for item in items:
            for step in _trees(splat):
                item = (
                    _get(item, _name(_trees(step)[0]))
                    if step.data == "get_attr"
                    else _index(item, self._index_key(step, scope))
                )
            out.append(item)
        return out

    _e_attr_splat_expr_term = _e_full_splat_expr_term

    def _e_function_call(self, node: Tree, scope: dict[str, Any]) -> Any:
        parts = _trees(node)
        name = _name(parts[0])
        arg_nodes = _trees(parts[1]) if len(parts) > 1 else []
        if name in ("try", "can"):
            return self._try(name, arg_nodes, scope)
        args = [self.eval(a, scope) for a in arg_nodes]
        expand = len(parts) > 1 and any(
            isinstance(t, Token) and t.type == "ELLIPSIS" for t in parts[1].children
        )
        if expand:
            args = args[:-1] + list(args[-1])
        fn = FUNCTIONS.get(name)
        if fn is None:
            raise Unresolved(f"function {name}() is not supported")
        return fn(*args)

    def _try(self, name: str, arg_nodes: list[Tree], scope: dict[str, Any]) -> Any:
        for arg in arg_nodes:
            try:
                value = self.eval(arg, scope)
            except (Unresolved, KeyError, IndexError, TypeError, ValueError):
                if name == "can":
                    return False
                continue
            return True if name == "can" else value
        raise Unresolved("try(): no argument could be evaluated")

    def _e_conditional(self, node: Tree, scope: dict[str, Any]) -> Any:
        cond, then, other = _trees(node)
        return self.eval(then, scope) if self.eval(cond, scope) else self.eval(other, scope)

    def _e_unary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        op = str(node.children[0])
        value = self.eval(_trees(node)[0], scope)
        return (not value) if op == "!" else -value

    def _e_binary_op(self, node: Tree, scope: dict[str, Any]) -> Any:
        left, term = _trees(node)
        operator, right = _trees(term)
        op = str(operator.children[0])
        if op == "&&":
            return bool(self.eval(left, scope)) and bool(self.eval(right, scope))
        if op == "||":
            return bool(self.eval(left, scope)) or bool(self.eval(right, scope))
        return BINARY[op](self.eval(left, scope), self.eval(right, scope))

    def _for(self, node: Tree, scope: dict[str, Any]) -> Iterator[dict[str, Any]]:
        intro = _trees(node)[0]
        parts = _trees(intro)
        names = [_name(p) for p in parts if p.data == "identifier"]
        collection = self.eval(parts[-1], scope)
        pairs = list(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
        cond = next((c for c in _trees(node) if c.data == "for_cond"), None)
        for k, v in pairs:
            inner = dict(scope)
            if len(names) == 2:
                inner[names[0]], inner[names[1]] = k, v
            else:
                inner[names[0]] = v
            if cond is not None and not self.eval(_trees(cond)[0], inner):
                continue
            yield inner

    def _e_for_tuple_expr(self, node: Tree, scope: dict[str, Any]) -> Any:
        body = next(c for c in _trees(node)[1:] if c.data != "for_cond")
        return [self.eval(body, inner) for inner in self._for(node, scope)]

    def _e_for_object_expr(self, node: Tree, scope: dict[str, Any]) -> Any:
        key, value = [c for c in _trees(node)[1:] if c.data != "for_cond"][:2]
        return {str(self.eval(key, inner)): self.eval(value, inner) for inner in self._for(node, scope)}


def _get(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if name not in value:
            raise Unresolved(f"no attribute {name} in {sorted(value)}")
        return value[name]
    if hasattr(value, "attr"):
        return value.attr(name)
    raise Unresolved(f"cannot read .{name} of {type(value).__name__}")


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list):
        return value[int(key)]
    if isinstance(value, dict):
        return value[str(key)]
    if hasattr(value, "attr"):
        return value.attr(str(key))
    raise Unresolved(f"cannot index {type(value).__name__}")


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if value is None:
        raise Unresolved("a null value in a string template")
    return str(value)


def _flatten(value: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in value:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _merge(*maps: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in maps:
        out.update(m or {})
    return out


def _one(value: list[Any]) -> Any:
    if len(value) > 1:
        raise Unresolved("one() of more than one element")
    return value[0] if value else None


def _coalesce(*values: Any) -> Any:
    return next(v for v in values if v is not None and v != "")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "jsondecode": json.loads,
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "flatten": _flatten,
    "length": len,
    "keys": lambda m: sorted(m),
    "values": lambda m: [m[k] for k in sorted(m)],
    "merge": _merge,
    "tostring": _to_string,
    "tonumber": float,
    "toset": lambda v: sorted(set(v), key=str),
    "tolist": list,
    "tomap": dict,
    "one": _one,
    "contains": lambda coll, v: v in coll,
    "coalesce": _coalesce,
    "lookup": lambda m, k, default=None: m.get(k, default),
    "replace": lambda s, old, new: s.replace(old, new),
    "split": lambda sep, s: s.split(sep),
    "join": lambda sep, items: sep.join(items),
    "format": lambda fmt, *args: fmt.replace("%s", "{}").format(*args),
    "lower": str.lower,
    "upper": str.upper,
    "ceil": math.ceil,
    "floor": math.floor,
    "max": max,
    "min": min,
    "abspath": os.path.abspath,
    "filebase64sha256": lambda path: "hash-of-" + os.path.basename(path),
    "distinct": lambda v: list(dict.fromkeys(v)),
    "sort": sorted,
    "compact": lambda v: [x for x in v if x],
    "startswith": str.startswith,
    "endswith": str.endswith,
    "trimsuffix": str.removesuffix,
    "trimprefix": str.removeprefix,
}

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
}


@dataclass
class RolePolicies:
    """The policy documents attached to one role: inline ones by name, managed ones by ARN."""

    role: str
    inline: dict[str, dict[str, Any]] = field(default_factory=dict)
    managed: list[str] = field(default_factory=list)


def role_policies(root: Module) -> dict[str, RolePolicies]:
    """Every IAM role the configuration creates, by role name, with what is attached to it."""
    roles: dict[str, RolePolicies] = {}
    for module in root.module_instances():
        for role in module.resources("aws_iam_role"):
            name = role.arg("name")
            roles.setdefault(name, RolePolicies(name))
    for module in root.module_instances():
        for policy in module.resources("aws_iam_role_policy"):
            role = policy.arg("role")
            roles.setdefault(role, RolePolicies(role)).inline[policy.arg("name")] = json.loads(
                policy.arg("policy")
            )
        for attachment in module.resources("aws_iam_role_policy_attachment"):
            role = attachment.arg("role")
            roles.setdefault(role, RolePolicies(role)).managed.append(attachment.arg("policy_arn"))
    return roles
