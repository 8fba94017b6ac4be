#!/usr/bin/env python3
"""The shape checks of issue 17.

1. The module graph of each crate, derived from its `crate::` paths
   (`use crate::{a, b::{c, d}}` trees included; `#[cfg(test)] mod tests`
   and comments left out; a file beneath `src/X/` belongs to module X):
   every cycle (a strongly connected component) is printed.
2. Every function longer than 200 lines (rustfmt layout: a `fn` line at
   some indentation ends at the first `}` line at the same indentation).

usage: scripts/shape.py [--check] [--strict] [--edges] [--self-test] [ROOT]
  (no flag)    report only; exit 0
  --check      exit 1 on any module cycle (long functions are reported,
               not failed); scripts/test runs this and --self-test
               (switch it to --strict once no function is over 200 lines)
  --strict     exit 1 on any finding, long functions included
  --edges      under each cycle, its edges: `a -> b: items [file:line...]`
  --self-test  check the checker on made-up crates (a cycle must fail)
"""
import os, re, sys, tempfile

REF = re.compile(r'\bcrate::')
IDENT = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*|\*|\{)')


def use_tree(s, i, prefix, out):
    """Parses the path tree after `crate::` at s[i]; appends each path."""
    while True:
        m = IDENT.match(s, i)
        if not m:
            return i
        tok, i = m.group(1), m.end()
        if tok == '{':
            while True:
                i = use_tree(s, i, prefix, out)
                m = re.compile(r'\s*([,}])').match(s, i)
                if not m:
                    return i
                i = m.end()
                if m.group(1) == '}':
                    return i
        path = prefix + [tok]
        m = re.compile(r'\s*::').match(s, i)
        if m:
            i, prefix = m.end(), path
            continue
        out.append(path)
        return i


def module_edges(src):
    """{module: {used module: {(item, 'file:line')}}} of one crate's src."""
    mods = {f[:-3] for f in os.listdir(src) if f.endswith('.rs')}
    mods |= {d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d))}
    mods -= {'lib', 'main'}
    edges = {}
    for dp, _, fs in os.walk(src):
        for f in sorted(fs):
            if not f.endswith('.rs'):
                continue
            rel = os.path.relpath(os.path.join(dp, f), src)
            top = rel.split(os.sep)[0]
            top = top[:-3] if top.endswith('.rs') else top
            if top in ('lib', 'main'):
                continue
            text = open(os.path.join(dp, f)).read()
            i = text.find('#[cfg(test)]\nmod tests')
            if i >= 0:
                text = text[:i]
            # comments (doc links included) are not dependencies
            text = '\n'.join(l.split('//')[0] for l in text.split('\n'))
            for m in REF.finditer(text):
                paths = []
                use_tree(text, m.end(), [], paths)
                line = text.count('\n', 0, m.start()) + 1
                for p in paths:
                    if p[0] in mods and p[0] != top:
                        item = p[1] if len(p) > 1 else '*'
                        edges.setdefault(top, {}).setdefault(p[0], set()).add((item, f'{rel}:{line}'))
    return edges


def cycles(edges):
    """The strongly connected components of more than one module."""
    idx, low, st, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def sc(v):
        idx[v] = low[v] = n[0]
        n[0] += 1
        st.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in idx:
                sc(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(set(edges) | {t for e in edges.values() for t in e}):
        if v not in idx:
            sc(v)
    return out


FN = re.compile(r'^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:unsafe\s+)?fn\s+(\w+)')


def long_fns(path, limit=200):
    lines = open(path).read().split('\n')
    for i, l in enumerate(lines):
        m = FN.match(l)
        if not m or l.rstrip().endswith(';'):
            continue
        close = m.group(1) + '}'
        for j in range(i + 1, len(lines)):
            if lines[j] == close:
                if j - i + 1 > limit:
                    yield i + 1, m.group(2), j - i + 1
                break


def crates_of(root):
    crates = {'oxsync': os.path.join(root, 'src')}
    if os.path.isdir(os.path.join(root, 'crates')):
        for c in sorted(os.listdir(os.path.join(root, 'crates'))):
            crates[c] = os.path.join(root, 'crates', c, 'src')
    return {k: v for k, v in crates.items() if os.path.isdir(v)}


def run(root, show_edges):
    """Prints the findings; returns (module cycles, long functions)."""
    ncyc = nfn = 0
    crates = crates_of(root)
    for name, src in crates.items():
        edges = module_edges(src)
        for comp in cycles(edges):
            ncyc += 1
            print(f'{name}: cycle among {len(comp)} modules: {" ".join(comp)}')
            if show_edges:
                for a in comp:
                    for b in sorted(edges.get(a, {})):
                        if b in comp:
                            uses = edges[a][b]
                            items = ' '.join(sorted({i for i, _ in uses}))
                            at = ' '.join(sorted({w for _, w in uses})[:4])
                            print(f'    {a} -> {b}: {items}  [{at}]')
    for name, src in crates.items():
        for dp, _, fs in os.walk(src):
            for f in sorted(fs):
                if f.endswith('.rs'):
                    path = os.path.join(dp, f)
                    for line, fn, n in long_fns(path):
                        nfn += 1
                        print(f'{os.path.relpath(path, root)}:{line}: fn {fn} has {n} lines')
    return ncyc, nfn


def self_test():
    """A made-up crate with a cycle must be found; one without must not."""
    ok = True
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'crates', 'fake', 'src')
        os.makedirs(os.path.join(src, 'b'))
        files = {
            'lib.rs': 'pub mod a;\npub mod b;\npub mod c;\n',
            # a uses b through a use tree, b (in b/inner.rs) uses c, c uses a
            'a.rs': 'use crate::{x, b::{self, Thing}};\n',
            'b.rs': 'mod inner;\n',
            'b/inner.rs': 'fn f() { crate::c::g() }\n',
            'c.rs': '// crate::x is a comment\npub fn g() { let _ = crate::a::A; }\n'
                    '#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n',
            'x.rs': '',
        }
        for f, t in files.items():
            open(os.path.join(src, f), 'w').write(t)
        e = module_edges(src)
        got = cycles(e)
        if got != [['a', 'b', 'c']]:
            print(f'self-test: the cycle a -> b -> c -> a was not found: {got}')
            ok = False
        if 'x' in e.get('c', {}) or 'b' in e.get('c', {}):
            print('self-test: a comment or a test module counted as a use')
            ok = False
        open(os.path.join(src, 'c.rs'), 'w').write('pub fn g() {}\n')
        if cycles(module_edges(src)):
            print('self-test: a cycle found where there is none')
            ok = False
        body = '\n'.join(['fn long() {'] + ['    x();'] * 200 + ['}', ''])
        open(os.path.join(src, 'x.rs'), 'w').write(body)
        if [n for _, _, n in long_fns(os.path.join(src, 'x.rs'))] != [202]:
            print('self-test: a 202-line function was not reported')
            ok = False
    return ok


def main():
    flags = {a for a in sys.argv[1:] if a.startswith('--')}
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    unknown = flags - {'--check', '--strict', '--edges', '--self-test'}
    if unknown:
        sys.exit(f'shape.py: unknown flag {" ".join(sorted(unknown))}\n{__doc__}')
    if '--self-test' in flags:
        if not self_test():
            sys.exit(1)
        print('shape.py self-test: ok')
        return
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    ncyc, nfn = run(root, '--edges' in flags)
    if '--strict' in flags and (ncyc or nfn):
        sys.exit(1)
    if '--check' in flags and ncyc:
        sys.exit(1)


main()
