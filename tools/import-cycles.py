#!/usr/bin/env python3
"""Report import circles between the files of a Rust crate's src/: `import-cycles.py CRATE/src`.

An edge A -> B means file A names an item of file B through a `crate::`, `super::` or
child-module path (in a `use` or inline). Paths are resolved to the deepest module file they name; `mod`
declarations and a file's own `#[cfg(test)] mod tests` (`use super::*`) are not edges.
Exits 1 and prints each strongly connected component of two or more files when there is one.
"""

import re
import sys
from pathlib import Path


def module_files(src: Path) -> dict:
    """Module path (tuple) -> file."""
    modules = {}
    for f in src.rglob("*.rs"):
        # A binary's main.rs is another crate that uses the library as an outsider; counting it as
        # the crate root would hide lib.rs's own edges.
        if f.name == "main.rs" and f.parent == src and (src / "lib.rs").exists():
            continue
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] in ("lib", "main") and len(parts) == 1:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        modules[tuple(parts)] = f
    return modules


def module_of(src: Path, f: Path) -> tuple:
    parts = list(f.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("lib", "main") and len(parts) == 1:
        return ()
    if parts[-1] == "mod":
        return tuple(parts[:-1])
    return tuple(parts)


def strip_tests_and_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    # Drop `#[cfg(test)] mod tests { ... }` (to the end of the file: it is always last).
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)
    return text[: m.start()] if m else text


def expand_use(tree: str) -> list:
    """`crate::{a::{b, c}, d}` -> ['crate::a::b', 'crate::a::c', 'crate::d']."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: str, s: str):
        depth, start, items = 0, 0, []
        for i, c in enumerate(s):
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for item in filter(None, items):
            if "{" in item:
                head, rest = item.split("{", 1)
                walk(prefix + head, rest[: rest.rfind("}")])
            else:
                out.append(prefix + item.split(" as ")[0])

    walk("", tree)
    return out


def resolve(path: list, here: tuple, modules: dict):
    """The module file a path names (deepest existing module prefix)."""
    if path[0] == "crate":
        base, rest = (), path[1:]
    elif path[0] == "super":
        base, rest = here, path
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif path[0] == "self":
        base, rest = here, path[1:]
    else:
        return None
    best = base if base in modules else None
    cur = base
    for p in rest:
        cur = cur + (p,)
        if cur in modules:
            best = cur
        else:
            break
    return best


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit("usage: import-cycles.py CRATE/src")
    src = Path(sys.argv[1])
    modules = module_files(src)
    edges = {}
    for mod, f in modules.items():
        if f.name == "main.rs":
            continue
        text = strip_tests_and_comments(f.read_text())
        paths = []
        for m in re.finditer(r"\buse\s+((?:crate|super|self)\b[^;]*);", text):
            paths += expand_use(m.group(1))
        for m in re.finditer(r"\b(?:crate|super)(?:::\w+)+", text):
            paths.append(m.group(0))
        # Paths through the file's own child modules (`mod node;` ... `node::ensure(..)`).
        for child in re.findall(r"\bmod\s+(\w+)\s*;", text):
            for m in re.finditer(r"(?<![:\w])" + child + r"(?:::\w+)+", text):
                paths.append("self::" + m.group(0))
            for m in re.finditer(r"\buse\s+(" + child + r"\b[^;]*);", text):
                paths += ["self::" + p for p in expand_use(m.group(1))]
        targets = set()
        for p in paths:
            t = resolve(p.split("::"), mod, modules)
            if t is not None and t != mod:
                targets.add(t)
        edges[mod] = targets

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            visit(v)
    name = lambda m: str(modules[m].relative_to(src))
    for comp in sccs:
        files = sorted(name(m) for m in comp)
        print("circle:", ", ".join(files))
        for m in sorted(comp, key=name):
            inner = sorted(name(t) for t in edges[m] if t in comp)
            print(f"  {name(m)} -> {', '.join(inner)}")
    print(f"{len(modules)} files, {sum(len(t) for t in edges.values())} edges, {len(sccs)} circle(s)")
    return 1 if sccs else 0


if __name__ == "__main__":
    sys.exit(main())
