#!/usr/bin/env python3
"""Keeps the shape of server/src from drifting (run by `make lint`).

Fails (exit 1), saying why, when
  - modules that are siblings (the top-level modules of server/src, or the modules inside
    one directory such as engine/) import each other in a loop, directly or through
    others: a reference to any module inside a sibling counts as a reference to it;
  - engine/, pgtools/ or store/ use the web edge: crate::http, axum, leptos or
    tower_sessions.

References are read from `crate::…` and `super::…` paths (including `use` groups);
unit tests at the end of a file (`#[cfg(test)] mod tests { … }`) are left out.
Usage: scripts/check-layers.py [SERVER_SRC]   (default: server/src next to this script)
"""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "server", "src")
# Layers that must not know about HTTP or the UI.
INNER = ("engine", "pgtools", "store")
FORBIDDEN = [
    (re.compile(r"\bcrate::http\b"), "crate::http"),
    (re.compile(r"(^|[^\w:])axum::|\buse\s+axum\b"), "axum"),
    (re.compile(r"(^|[^\w:])leptos(_axum|_meta)?::|\buse\s+leptos"), "leptos"),
    (re.compile(r"(^|[^\w:])tower_sessions(_sqlx_store)?::"), "tower_sessions"),
]
TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{.*", re.S)
COMMENT = re.compile(r"//[^\n]*")
PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}", re.S)


def module_of(path):
    """server/src/engine/run.rs → ('engine', 'run'); engine/mod.rs → ('engine',)."""
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def source(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    return COMMENT.sub("", TESTS.sub("", text))


def resolve(mod, file_is_dir_root, kind, segments):
    """The absolute module path a `crate::…` / `super::…` reference names."""
    if kind == "crate":
        return tuple(segments)
    # `super` in engine/run.rs is engine; in engine/mod.rs it is the crate root.
    base = list(mod) if not file_is_dir_root else list(mod)
    base = base[:-1]
    rest = list(segments)
    while rest and rest[0] == "super":
        base = base[:-1]
        rest = rest[1:]
    return tuple(base + rest)


def references(path, mod):
    text = source(path)
    dir_root = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
    refs = set()
    for kind, tail in PATH.findall(text):
        refs.add(resolve(mod, dir_root, kind, [s for s in tail.split("::") if s]))
    for kind, prefix, inner in GROUP.findall(text):
        head = [s for s in prefix.split("::") if s]
        for item in re.split(r",(?![^{]*\})", inner):
            first = item.strip().split("::")[0].split(" as ")[0].strip()
            if first and first not in ("self", "*") and not first.startswith("{"):
                refs.add(resolve(mod, dir_root, kind, head + [first]))
            elif first == "self" and head:
                refs.add(resolve(mod, dir_root, kind, head))
    return refs


def strongly_connected(nodes, edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    files = []
    for dirpath, _, names in os.walk(ROOT):
        files += [os.path.join(dirpath, n) for n in names if n.endswith(".rs")]
    modules = {module_of(f) for f in files}
    problems = []

    refs = {}
    for f in files:
        mod = module_of(f)
        refs.setdefault(mod, set()).update(references(f, mod))
        if mod and mod[0] in INNER:
            text = source(f)
            for pattern, name in FORBIDDEN:
                if pattern.search(text):
                    problems.append(
                        f"{os.path.relpath(f, ROOT)}: {mod[0]}/ must not use {name} (the web edge)")

    # Siblings at every level: the children of each module.
    parents = {m[:-1] for m in modules if m} | {()}
    for parent in sorted(parents):
        children = {m[len(parent)] for m in modules if len(m) > len(parent) and m[:len(parent)] == parent}
        if len(children) < 2:
            continue
        edges = {c: set() for c in children}
        for mod, targets in refs.items():
            if len(mod) <= len(parent) or mod[:len(parent)] != parent:
                continue
            source_child = mod[len(parent)]
            for t in targets:
                if len(t) > len(parent) and t[:len(parent)] == parent:
                    target_child = t[len(parent)]
                    if target_child in children and target_child != source_child:
                        edges[source_child].add(target_child)
        for cycle in strongly_connected(children, edges):
            where = "::".join(parent) or "crate"
            problems.append(f"import loop among the modules of {where}: {' ↔ '.join(cycle)}")

    for p in problems:
        print(f"check-layers: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check-layers: {len(modules)} modules, no import loop, the engine stays off the web edge")


if __name__ == "__main__":
    main()
