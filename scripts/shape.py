#!/usr/bin/env python3
"""The shape checks of issue 17, as a report.

1. The module graph of each crate, derived from its `crate::X` paths
   (`use crate::{a, b}` groups included, `#[cfg(test)] mod tests` left
   out): every cycle (a strongly connected component) is printed.
2. Every function longer than 200 lines (rustfmt layout: a `fn` line at
   some indentation ends at the first `}` line at the same indentation).

usage: scripts/shape.py [--strict] [ROOT]
Without --strict it only reports; with it, any finding is exit status 1.
It is not yet run by scripts/test: the engine still has a cycle among
most of its modules, and some functions are longer (see docs/ARCHITECTURE.md).
"""
import os, re, sys
args = [a for a in sys.argv[1:] if a != '--strict']
strict = '--strict' in sys.argv[1:]
root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
crates = {'oxsync': os.path.join(root, 'src')}
for c in sorted(os.listdir(os.path.join(root, 'crates'))):
    crates[c] = os.path.join(root, 'crates', c, 'src')
ref = re.compile(r'\bcrate::([a-z_][a-z0-9_]*)')
usegroup = re.compile(r'use\s+crate::\{([^;]*)\}', re.S)
bad = 0
for name, src in crates.items():
    if not os.path.isdir(src): continue
    edges = {}
    for dp, _, fs in os.walk(src):
        for f in fs:
            if not f.endswith('.rs'): continue
            rel = os.path.relpath(os.path.join(dp, f), src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith('.rs') else top
            if top in ('lib', 'main'): continue
            text = open(os.path.join(dp, f)).read()
            # drop #[cfg(test)] mod tests blocks crudely: cut at '#[cfg(test)]\nmod tests'
            i = text.find('#[cfg(test)]\nmod tests')
            if i >= 0: text = text[:i]
            # comments (doc links included) are not dependencies
            text = '\n'.join(l.split('//')[0] for l in text.split('\n'))
            tgts = set(ref.findall(text))
            for g in usegroup.findall(text):
                for part in g.split(','):
                    m = re.match(r'\s*([a-z_][a-z0-9_]*)', part)
                    if m: tgts.add(m.group(1))
            for t in tgts:
                if t != top and os.path.exists(os.path.join(src, t + '.rs')) or os.path.isdir(os.path.join(src, t)):
                    if t != top: edges.setdefault(top, set()).add(t)
    # Tarjan
    idx, low, st, on, out, n = {}, {}, [], set(), [], [0]
    nodes = set(edges) | {t for v in edges.values() for t in v}
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v] = low[v] = n[0]; n[0] += 1; st.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in idx: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(nodes):
        if v not in idx: sc(v)
    for comp in out:
        bad += 1
        print(f'{name}: cycle among {len(comp)} modules: {" ".join(comp)}')

FN = re.compile(r'^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)')
for name, src in crates.items():
    for dp, _, fs in os.walk(src):
        for f in sorted(fs):
            if not f.endswith('.rs'):
                continue
            path = os.path.join(dp, f)
            lines = open(path).read().split('\n')
            for i, l in enumerate(lines):
                m = FN.match(l)
                if not m or l.rstrip().endswith(';'):
                    continue
                close = m.group(1) + '}'
                for j in range(i + 1, len(lines)):
                    if lines[j] == close:
                        n = j - i + 1
                        if n > 200:
                            bad += 1
                            print(f'{os.path.relpath(path, root)}:{i + 1}: fn {m.group(2)} has {n} lines')
                        break
sys.exit(1 if bad and strict else 0)
