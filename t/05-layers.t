#!/usr/bin/python3
# t/05-layers.t - the layers of src/ read bottom up, with no circle.
#
# The table is src/LAYERS: every file of src/ in one layer (generic,
# mail, engines, runtime, programs, bottom up).  The dependencies are
# read from what the compiler made and from the sources:
#   a call   file A uses a symbol that file B's object defines
#            (nm of each src/NAME.c's object: U in A, defined in B);
#   an include  file A has #include "B".
# It fails on
#   - a file of src/ that the table does not name, a name of the table
#     that is no file, a name given twice;
#   - a file that depends on a file of a higher layer;
#   - a circle of files (files that depend on each other in a loop).
# The objects are those of the build under test: the directory of
# MTA_UNIT (make prove sets it: build/release, build/asan, ...), else
# build/release; they must be built and no older than their sources.
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
src = os.path.join(root, "src")
unit = os.environ.get("MTA_UNIT")
objdir = os.path.dirname(unit) if unit else os.path.join(root, "build",
                                                         "release")

tests = []                       # (ok, name, diagnostics, todo)


def check(ok, name, diag=(), todo=None):
    tests.append((ok, name, list(diag), todo))


def skip_all(why):
    strict = os.environ.get("MTA_TEST_STRICT", "")
    if strict and strict != "0":
        print("1..1")
        print("not ok 1 - cannot run here (a skip, and MTA_TEST_STRICT is "
              "set): " + why)
        sys.exit(1)
    print("1..0 # SKIP " + why)
    sys.exit(0)


def stem(f):
    return f.rsplit(".", 1)[0]


# ---- the table ----
layer_of = {}                    # stem -> layer index
layers = []                      # layer names, bottom up
twice = []
with open(os.path.join(src, "LAYERS")) as fh:
    for line in fh:
        line = line.split("#", 1)[0].rstrip()
        if not line:
            continue
        words = line.split()
        if not line[0].isspace():
            layers.append(words.pop(0))
        elif not layers:
            sys.exit("src/LAYERS: a continued line before any layer")
        for w in words:
            if w in layer_of:
                twice.append(w)
            layer_of[w] = len(layers) - 1

files = sorted(f for f in os.listdir(src) if f.endswith((".c", ".h")))
stems = {stem(f) for f in files}
check(not [f for f in files if stem(f) not in layer_of] and
      not [s for s in layer_of if s not in stems] and not twice,
      "src/LAYERS names every file of src/, each once, and no other",
      ["%s: not in src/LAYERS" % f for f in files if stem(f) not in layer_of] +
      ["src/LAYERS: %s: no such file in src/" % s
       for s in sorted(layer_of) if s not in stems] +
      ["src/LAYERS: %s: named twice" % s for s in twice])

# ---- the dependencies ----
deps = {}                        # (from, to) -> what ties them


def depend(a, b, why):
    if a != b:
        deps.setdefault((a, b), set()).add(why)


sources = [f for f in files if f.endswith(".c")]
stale = []
defined = {}                     # symbol -> files that define it
used = {}                        # file -> symbols it leaves undefined
for f in sources:
    obj = os.path.join(objdir, stem(f) + ".o")
    if not os.path.exists(obj):
        skip_all("%s not built (make, make unit)" % obj)
    if os.path.getmtime(obj) < os.path.getmtime(os.path.join(src, f)):
        stale.append(obj)
    out = subprocess.run(["nm", "-P", obj], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    used[f] = set()
    for row in out.splitlines():
        p = row.split()
        if len(p) < 2:
            continue
        if p[1] == "U":
            used[f].add(p[0])
        elif p[1].isupper():     # a definition seen by other objects
            defined.setdefault(p[0], set()).add(f)
check(not stale, "the objects in %s are no older than their sources"
      % os.path.relpath(objdir, root),
      ["%s: older than its source (make)" % os.path.relpath(o, root)
       for o in stale])
for f, syms in used.items():
    for s in syms:
        for g in defined.get(s, ()):
            depend(f, g, s)
include = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for f in files:
    with open(os.path.join(src, f)) as fh:
        for line in fh:
            m = include.match(line)
            if m:
                depend(f, m.group(1), "#include")


def why(a, b):
    w = sorted(deps[(a, b)])
    return ", ".join(w[:4]) + (", ..." if len(w) > 4 else "")


# ---- no file depends on a higher layer ----
up = []
for (a, b) in sorted(deps):
    la, lb = layer_of.get(stem(a)), layer_of.get(stem(b))
    if la is not None and lb is not None and lb > la:
        up.append("%s (%s) -> %s (%s): %s" % (a, layers[la], b, layers[lb],
                                              why(a, b)))
check(not up, "no file depends on a file of a higher layer", up)

# ---- no circle: the strongly connected components (Tarjan) ----
succ = {}
for (a, b) in deps:
    succ.setdefault(a, []).append(b)
index, low, on, stack, circles = {}, {}, set(), [], []


def visit(v):
    # iterative: the graph is small, but recursion depth is no concern
    work = [(v, iter(sorted(succ.get(v, ()))))]
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    while work:
        v, it = work[-1]
        for w in it:
            if w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(succ.get(w, ())))))
                break
            if w in on:
                low[v] = min(low[v], index[w])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    circles.append(sorted(comp))


for v in sorted({a for (a, b) in deps} | {b for (a, b) in deps}):
    if v not in index:
        visit(v)


def ties(comp):
    return ["circle: " + " ".join(comp)] + \
           ["  %s -> %s: %s" % (a, b, why(a, b)) for (a, b) in sorted(deps)
            if a in comp and b in comp]


check(not circles, "no circle of files",
      [line for c in circles for line in ties(c)])

# ---- TAP ----
print("1..%d" % len(tests))
failed = 0
for n, (ok, name, diag, todo) in enumerate(tests, 1):
    print("%sok %d - %s%s" % ("" if ok else "not ", n, name,
                              " # TODO " + todo if todo else ""))
    for d in diag:
        print("# " + d)
    if not ok and not todo:
        failed += 1
sys.exit(1 if failed else 0)
