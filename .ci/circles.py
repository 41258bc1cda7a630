#!/usr/bin/env python3
"""File-level import circles inside src/: prints each circle and exits 1 if there is one.

Two files of one folder are tied when one names the other's module through `super::` or
`crate::` (in a `use` or inline); `mod.rs` and `lib.rs` only declare and re-export, so they are
left out. Test modules (from `#[cfg(test)]` to the end of a file) are left out too.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_path(rel):
    """src-relative path -> module path as a list (client/connection.rs -> [client, connection])."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts


def code(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#[cfg(test)]"):
                break
            # Drop comments (doc comments name paths that are not imports).
            out.append(re.sub(r"//.*", "", line))
    return "".join(out)


def paths_in(text):
    """Every `super::…`/`crate::…` path, braces expanded one level deep at a time."""
    found = []
    for m in re.finditer(r"\b(super|crate)((?:\s*::\s*(?:super|\w+))*)\s*::\s*\{", text):
        start = m.end()
        depth, i = 1, start
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        head = [m.group(1)] + [s for s in re.split(r"\s*::\s*", m.group(2)) if s]
        inner = text[start : i - 1]
        # Split the group on top-level commas.
        depth, piece, pieces = 0, "", []
        for ch in inner:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                pieces.append(piece)
                piece = ""
            else:
                piece += ch
        pieces.append(piece)
        for p in pieces:
            segs = [s for s in re.split(r"\s*::\s*", p.strip().split("{")[0].strip()) if s]
            if segs:
                found.append(head + segs)
    for m in re.finditer(r"\b(super|crate)((?:\s*::\s*(?:super|\w+))+)", text):
        found.append([m.group(1)] + [s for s in re.split(r"\s*::\s*", m.group(2)) if s])
    return found


def resolve(current, segs):
    """Absolute module path that `segs` (starting with super/crate) points into."""
    if segs[0] == "crate":
        return segs[1:]
    base = current[:-1]  # the folder module of this file
    rest = segs[1:]
    while rest and rest[0] == "super":
        base = base[:-1]
        rest = rest[1:]
    return base + rest


def main():
    files = {}
    for dirpath, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, n), ROOT)
                files[rel] = module_path(rel)
    by_module = {tuple(m): rel for rel, m in files.items()}
    edges = {}
    for rel, mod in files.items():
        name = os.path.basename(rel)
        if name in ("mod.rs", "lib.rs", "main.rs"):
            continue
        folder = tuple(mod[:-1])
        for segs in paths_in(code(os.path.join(ROOT, rel))):
            target = resolve(mod, segs)
            # The sibling file this path enters: folder + one more segment.
            if len(target) > len(folder) and tuple(target[: len(folder)]) == folder:
                sibling = tuple(target[: len(folder) + 1])
                other = by_module.get(sibling)
                if other and other != rel and os.path.basename(other) != "mod.rs":
                    # A sibling folder's mod.rs counts as the folder itself.
                    edges.setdefault(rel, set()).add(other)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

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
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            visit(v)
    for comp in sccs:
        print("import circle: " + " <-> ".join("src/" + c for c in comp))
        for a in comp:
            for b in sorted(edges.get(a, ())):
                if b in comp:
                    print(f"  src/{a} -> src/{b}")
    if sccs:
        return 1
    print(f"import circles: none ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
