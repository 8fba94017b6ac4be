#!/usr/bin/env python3
"""Generate crates/filter/tests/cases.txt by running stock rsync.

For every case below this script builds a fresh source tree (the BASE tree plus
the case's own files, e.g. per-directory .rsync-filter files), runs

    rsync -r --dry-run --out-format=%n [ARGS] src/ nodst/      (mode send)
    rsync -r --dry-run --out-format=%n --delete [ARGS] src/ dst/ (mode delete)

and records, for every path of the tree (send) or every receiver-only path
(delete), whether rsync listed it as transferred / deleted.  Nothing in the
table is written by hand: rerun this script to regenerate it.

Usage: python3 crates/filter/tests/gen/gen_cases.py > crates/filter/tests/cases.txt
"""
import os
import shutil
import subprocess
import sys
import tempfile

RSYNC = os.environ.get("RSYNC", "/usr/bin/rsync")

BASE_FILES = [
    "a.c", "a.o", "b.txt", "core", "x~", "foo", "foo.bak", ".hidden", "f1.txt",
    "f2.txt", "fa.txt", "Makefile", "#tmp",
    "dir1/a.c", "dir1/a.o", "dir1/foo", "dir1/bar.txt",
    "dir1/sub/deep.c", "dir1/sub/deep.o", "dir1/sub/foo/inner.txt",
    "dir2/foo", "dir2/bar.txt", "dir2/keep.o", "dir2/.git/config",
    "dir2/CVS/Entries", "dir2/x.bak",
    "dir3/foo/x.txt", "dir3/foo/y.c",
    "lib/m.so", "lib/m.a", "lib/keep.o", "lib/sub/n.c",
    "tmp/t1", "tmp/t2/t3",
]

# Receiver-only files for the delete cases (their directories always exist
# on the sender and are never excluded in those cases).
EXTRA_DEST = ["extra.o", "extra.txt", "keep.bak", "dir1/extra.o", "dir1/sub/extra.c", "lib/extra.txt"]

RSF = ".rsync-filter"

# (name, mode, args, {relative path: contents} created in src, {name: contents} created beside src)
CASES = [
    ("none", "send", [], {}, {}),
    ("ext", "send", ["--exclude=*.o"], {}, {}),
    ("name", "send", ["--exclude=foo"], {}, {}),
    ("anchored", "send", ["--exclude=/foo"], {}, {}),
    ("anchored-deep", "send", ["--exclude=/dir1/foo"], {}, {}),
    ("dir-only", "send", ["--exclude=foo/"], {}, {}),
    ("dir-only-slash", "send", ["--exclude=dir1/sub/"], {}, {}),
    ("infix-slash", "send", ["--exclude=dir1/foo"], {}, {}),
    ("infix-slash2", "send", ["--exclude=sub/foo"], {}, {}),
    ("star-slash", "send", ["--exclude=*/foo"], {}, {}),
    ("star-star-slash", "send", ["--exclude=*/*/foo"], {}, {}),
    ("dstar-suffix", "send", ["--exclude=dir1/**"], {}, {}),
    ("star-suffix", "send", ["--exclude=dir1/*"], {}, {}),
    ("dstar-prefix", "send", ["--exclude=**/foo"], {}, {}),
    ("dstar-prefix-file", "send", ["--exclude=**/a.c"], {}, {}),
    ("dstar-infix", "send", ["--exclude=dir*/**/foo"], {}, {}),
    ("dstar-anchored", "send", ["--exclude=/dir1/**/inner.txt"], {}, {}),
    ("dstar-in-name", "send", ["--exclude=d**t*"], {}, {}),
    ("wild3", "send", ["--exclude=lib/***"], {}, {}),
    ("wild3-anchored", "send", ["--exclude=/tmp/***"], {}, {}),
    ("wild3-include", "send", ["--include=/dir1/***", "--exclude=*"], {}, {}),
    ("question", "send", ["--exclude=f?.txt"], {}, {}),
    ("question2", "send", ["--exclude=?.?"], {}, {}),
    ("class-range", "send", ["--exclude=f[0-9].txt"], {}, {}),
    ("class-negate", "send", ["--exclude=f[!0-9].txt"], {}, {}),
    ("class-caret", "send", ["--exclude=f[^a].txt"], {}, {}),
    ("class-posix", "send", ["--exclude=[[:upper:]]*"], {}, {}),
    ("class-list", "send", ["--exclude=*.[ao]"], {}, {}),
    ("escape", "send", ["--exclude=\\#*"], {}, {}),
    ("tilde", "send", ["--exclude=*~"], {}, {}),
    ("dotfiles", "send", ["--exclude=.*"], {}, {}),
    ("incl-then-excl", "send", ["--include=*.c", "--exclude=*.o", "--exclude=a.*"], {}, {}),
    ("excl-then-incl", "send", ["--exclude=a.*", "--include=*.c"], {}, {}),
    ("only-c", "send", ["--include=*/", "--include=*.c", "--exclude=*"], {}, {}),
    ("parents", "send", ["--include=/dir1/", "--include=/dir1/sub/", "--include=/dir1/sub/*.c", "--exclude=*"], {}, {}),
    ("no-parents", "send", ["--include=dir1/sub/deep.c", "--exclude=*"], {}, {}),
    ("clear", "send", ["--exclude=*.o", "--filter=!", "--exclude=*.c"], {}, {}),
    ("clear-long", "send", ["--exclude=*.txt", "--filter=clear", "--exclude=foo"], {}, {}),
    ("clear-exclude-opt", "send", ["--exclude=*.c", "--exclude=!", "--exclude=*.txt"], {}, {}),
    ("cvs", "send", ["-C"], {}, {}),
    ("cvs-include", "send", ["-C", "--include=core", "--include=*.o"], {}, {}),
    ("cvs-dir", "send", ["-C"], {"dir2/.cvsignore": "bar.txt keep.o\n"}, {}),
    ("cvs-explicit", "send", ["--filter=-C", "--filter=+ *"], {}, {}),
    ("negate-dir", "send", ["--filter=-! */"], {}, {}),
    ("negate", "send", ["--filter=-! *.c"], {}, {}),
    ("negate-comma", "send", ["--filter=-,! *.c", "--filter=- *"], {}, {}),
    ("abs-mod", "send", ["--filter=-/ @ROOT@/a.c", "--filter=-/ @ROOT@/dir1/foo"], {}, {}),
    ("abs-mod-wild", "send", ["--filter=-/ @ROOT@/dir*/*.o"], {}, {}),
    ("abs-mod-unanchored", "send", ["--filter=-/ sub/*.c"], {}, {}),
    ("mixed", "send", ["--filter=+ foo/", "--filter=- foo", "--filter=- *.bak"], {}, {}),
    ("mixed2", "send", ["--filter=- /dir2/", "--filter=+ dir*/", "--filter=+ *.txt", "--filter=- *"], {}, {}),
    ("long-names", "send", ["--filter=include */", "--filter=include *.txt", "--filter=exclude *"], {}, {}),
    ("underscore", "send", ["--filter=exclude_*.o", "--filter=-_foo"], {}, {}),
    ("excl-plus-prefix", "send", ["--exclude=+ a.c", "--exclude=*.c"], {}, {}),
    ("incl-minus-prefix", "send", ["--include=- *.o", "--include=*"], {}, {}),
    ("hide", "send", ["--filter=hide *.o"], {}, {}),
    ("hide-short", "send", ["--filter=H *.txt", "--filter=S dir1/"], {}, {}),
    ("show-hide", "send", ["--filter=show *.o", "--filter=show */", "--filter=hide *"], {}, {}),
    ("protect-send", "send", ["--filter=protect *.o", "--filter=P dir1/"], {}, {}),
    ("risk-send", "send", ["--filter=risk *.o", "--filter=- *.o"], {}, {}),
    ("sender-mod", "send", ["--filter=-s *.c", "--filter=-r *.o"], {}, {}),
    ("perishable-send", "send", ["--filter=-p *.o"], {}, {}),
    ("exclude-from", "send", ["--exclude-from=@BASE@/ex.txt"], {}, {"ex.txt": "# comment\n*.o\n\n+ keep.bak\n; other\nfoo\n"}),
    ("include-from", "send", ["--include-from=@BASE@/in.txt", "--exclude=*"], {}, {"in.txt": "*/\n- dir2/\n*.txt\n"}),
    ("merge", "send", ["--filter=merge @BASE@/rules"], {}, {"rules": "+ dir1/a.o\n- *.o\n- /tmp/\n"}),
    ("merge-no-prefix", "send", ["--filter=.- @BASE@/rules"], {}, {"rules": "*.c\n+ x\n"}),
    ("F", "send", ["-F"], {RSF: "- *.o\n", "dir1/" + RSF: "+ a.o\n- bar.txt\n", "dir1/sub/" + RSF: "- /deep.c\n- /foo/\n"}, {}),
    ("FF", "send", ["-FF"], {RSF: "- *.o\n", "dir1/" + RSF: "+ a.o\n- bar.txt\n", "dir1/sub/" + RSF: "- /deep.c\n"}, {}),
    ("F-anchored", "send", ["-F"], {"dir1/" + RSF: "- /foo\n- /sub/deep.o\n"}, {}),
    ("F-before-cli", "send", ["--exclude=a.c", "-F", "--exclude=*.o"], {RSF: "+ a.*\n", "dir1/" + RSF: "- *.c\n"}, {}),
    ("dir-merge-inherit", "send", ["--filter=: .rules"], {".rules": "- *.txt\n", "dir1/.rules": "+ bar.txt\n", "dir2/.rules": "- foo\n"}, {}),
    ("dir-merge-noinherit", "send", ["--filter=:n .rules"], {".rules": "- *.txt\n", "dir1/.rules": "+ bar.txt\n", "dir2/.rules": "- foo\n"}, {}),
    ("dir-merge-clear", "send", ["--filter=: .rules", "--filter=- *.c"], {".rules": "- *.txt\n", "dir1/.rules": "!\n- foo\n", "dir1/sub/.rules": "- deep.o\n"}, {}),
    ("dir-merge-exclude-self", "send", ["--filter=:e .rules"], {".rules": "- *.o\n", "dir2/.rules": "- x.bak\n"}, {}),
    ("dir-merge-minus", "send", ["--filter=:- .ex"], {".ex": "*.c\n", "dir1/.ex": "bar.txt\nfoo\n"}, {}),
    ("dir-merge-plus", "send", ["--filter=:+ .in", "--filter=- *.txt"], {"dir1/.in": "bar.txt\n", "dir3/foo/.in": "*\n"}, {}),
    ("dir-merge-word", "send", ["--filter=:w .w"], {"dir2/.w": "-_foo  -_x.bak\n+_bar.txt"}, {}),
    ("dir-merge-hide", "send", ["--filter=:s .h"], {".h": "- *.o\n+ foo\n"}, {}),
    ("dir-merge-nested", "send", ["--filter=: .a"], {".a": ": .b\n- b.txt\n", "dir1/.b": "- a.c\n", "dir1/sub/.a": "- deep.o\n"}, {}),
    ("dir-merge-long", "send", ["--filter=dir-merge .rules", "--filter=exclude .rules"], {".rules": "exclude foo\n", "lib/.rules": "include m.*\nexclude *\n"}, {}),
    ("del-none", "delete", [], {}, {}),
    ("del-exclude", "delete", ["--exclude=*.o"], {}, {}),
    ("del-protect", "delete", ["--filter=protect *.o"], {}, {}),
    ("del-protect-short", "delete", ["--filter=P extra.txt", "--filter=P dir1/sub/*"], {}, {}),
    ("del-hide", "delete", ["--filter=hide extra.*"], {}, {}),
    ("del-risk", "delete", ["--filter=risk *.o", "--filter=protect extra*"], {}, {}),
    ("del-r-mod", "delete", ["--filter=-r *.txt"], {}, {}),
    ("del-s-mod", "delete", ["--filter=-s *.txt"], {}, {}),
    ("del-show", "delete", ["--filter=show extra.*", "--filter=- extra.*"], {}, {}),
    ("del-excluded", "delete", ["--delete-excluded", "--exclude=*.o", "--filter=P *.txt"], {}, {}),
    ("del-perishable", "delete", ["--filter=-p *.o"], {}, {}),
    ("del-cvs", "delete", ["-C"], {}, {}),
    ("del-anchored", "delete", ["--exclude=/extra.o", "--filter=P /dir1/sub/"], {}, {}),
]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)


def all_paths(root):
    """Every path under root (relative), with its kind."""
    out = []
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for n in dirs:
            out.append((os.path.normpath(os.path.join(rel, n)), "d"))
        for n in files:
            out.append((os.path.normpath(os.path.join(rel, n)), "f"))
    return sorted(out)


def esc(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def run_case(tmp, name, mode, args, files, xfiles):
    base = os.path.join(tmp, name)
    src = os.path.join(base, "src")
    for f in BASE_FILES:
        write(os.path.join(src, f), f)
    for f, data in files.items():
        write(os.path.join(src, f), data)
    for f, data in xfiles.items():
        write(os.path.join(base, f), data)
    real = [a.replace("@ROOT@", src).replace("@BASE@", base) for a in args]
    env = {"PATH": "/usr/bin:/bin", "HOME": base, "LC_ALL": "C"}
    cmd = [RSYNC, "-r", "--dry-run", "--out-format=%n"]
    if mode == "send":
        cmd += real + [src + "/", os.path.join(base, "nodst") + "/"]
        expect_paths = all_paths(src)
    else:
        dst = os.path.join(base, "dst")
        shutil.copytree(src, dst)
        for f in EXTRA_DEST:
            write(os.path.join(dst, f), f)
        cmd += ["--delete"] + real + [src + "/", dst + "/"]
        expect_paths = [(f, "f") for f in EXTRA_DEST]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    listed = set()
    for line in res.stdout.splitlines():
        if mode == "delete":
            if line.startswith("deleting "):
                listed.add(line[len("deleting "):].rstrip("/"))
        else:
            listed.add(line.rstrip("/"))
    lines = ["case " + name, "mode " + mode]
    lines += ["arg " + esc(a) for a in args]
    lines += ["file %s %s" % (f, esc(d)) for f, d in sorted(files.items())]
    lines += ["xfile %s %s" % (f, esc(d)) for f, d in sorted(xfiles.items())]
    for p, kind in expect_paths:
        lines.append("expect %s %s %d" % (p, kind, 1 if p in listed else 0))
    lines.append("end")
    return lines


def main():
    out = [
        "# Generated by crates/filter/tests/gen/gen_cases.py from stock rsync:",
        "# " + subprocess.run([RSYNC, "--version"], capture_output=True, text=True).stdout.splitlines()[0],
        "# expect PATH KIND 1|0: send mode = listed as transferred; delete mode = deleted.",
    ]
    with tempfile.TemporaryDirectory(prefix="filter-gen-") as tmp:
        for case in CASES:
            out += run_case(tmp, *case)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
