#!/usr/bin/env bash
# docs_check.sh BUILD [REPO]: the README and the reference pages in docs/ against the repository and the binaries,
# so that they cannot drift (issue 13, item 7). BUILD is a build directory holding cnnbench and
# tests/cnnbench-tests (tests/cnnbench-gpu-host-tests, cnnbench-mpi-tests and cnnbench-gpu-tests when built); REPO is the
# repository root (default: the one this script is in). It checks:
#   a. every relative link and image in README.md and docs/*.md names a file of the repository (and an anchor
#      into a Markdown file names one of its headings); no link is absolute or leads out of the repository;
#   b. every test named in the test column of docs/BAD-INPUT.md exists: `Suite.Name`, `Suite.*`, parameterised
#      `Suite/Case`, and `ctest NAME` in parentheses, against --gtest_list_tests of the test binaries (for a
#      binary not built here, against the TEST lines of its sources) and the build's CTestTestfile.cmake files
#      (for a ctest test this build does not register, against the add_test lines of tests/CMakeLists.txt);
#   c. every flag of `cnnbench train --help` and `cnnbench sweep --help` is in docs/CLI.md's section of that
#      command, and every flag that section names is in the help;
#   d. every top-level field of a real run record, and every field of its `timing`, is in docs/RECORD.md, and
#      every field the table lists exists in the record;
#   e. README.md has at most 140 lines.
# Exit 0 when all hold; 1 listing every violation as FILE:LINE: what; 2 on bad usage.
set -u

usage() { echo "usage: $0 BUILD_DIR [REPO_ROOT]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$1
repo=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -d "$build" ] || { echo "docs_check: $build is not a directory" >&2; exit 2; }
[ -x "$build/cnnbench" ] || { echo "docs_check: $build/cnnbench is not an executable" >&2; exit 2; }
[ -x "$build/tests/cnnbench-tests" ] || { echo "docs_check: $build/tests/cnnbench-tests is not an executable" >&2; exit 2; }
[ -f "$repo/README.md" ] && [ -d "$repo/docs" ] || { echo "docs_check: $repo has no README.md and docs/" >&2; exit 2; }
command -v python3 >/dev/null || { echo "docs_check: python3 is needed" >&2; exit 2; }

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

python3 - "$build" "$repo" "$tmp" <<'PY'
import glob, json, os, re, subprocess, sys

build, repo, tmp = (os.path.abspath(a) for a in sys.argv[1:4])
repo_real = os.path.realpath(repo)
problems = []
counts = dict(links=0, tests=0, flags=0, fields=0)

def bad(path, line, what):
    problems.append(f"{os.path.relpath(path, repo)}:{line}: {what}")

def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")

def run(cmd, what):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        problems.append(f"{what}: {e}")
        return None
    if p.returncode != 0:
        problems.append(f"{what}: exit {p.returncode}: {p.stderr.strip()[:400]}")
        return None
    return p.stdout

pages = [os.path.join(repo, "README.md")] + sorted(glob.glob(os.path.join(repo, "docs", "*.md")))

def strip_code(lines):
    """The lines with fenced blocks blanked and inline code spans removed (links in code are not links)."""
    out, fenced = [], False
    for l in lines:
        if l.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", l))
    return out

def slug(heading):
    """GitHub's anchor of a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")

def anchors(path):
    seen, out = {}, set()
    fenced = False
    for l in read_lines(path):
        if l.lstrip().startswith("```"):
            fenced = not fenced
        if fenced:
            continue
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", l)
        if m:
            a = slug(m.group(1))
            n = seen.get(a, 0)
            seen[a] = n + 1
            out.add(a if n == 0 else f"{a}-{n}")
    return out

# a. links
link_re = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\s[^>]*?src=\"([^\"]+)\"")
refdef_re = re.compile(r" {0,3}\[[^\]]+\]:\s*<?([^\s>]+)")     # [name]: target, not inside a paragraph
for page in pages:
    raw = read_lines(page)
    code_free = strip_code(raw)
    text = "\n".join(code_free)                                # a link's text may run over several lines
    found = []
    for m in link_re.finditer(text):
        g = 1 if m.group(1) else 2
        found.append((text.count("\n", 0, m.start(g)) + 1, m.group(g)))
    for i, l in enumerate(code_free):
        d = refdef_re.match(raw[i])
        if d and l.strip() and (i == 0 or not code_free[i - 1].strip() or refdef_re.match(raw[i - 1])):
            found.append((i + 1, d.group(1)))
    for no, target in found:
        counts["links"] += 1
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, frag = target.partition("#")
        if path.startswith("/"):
            bad(page, no, f"link '{target}' is absolute; links must be relative and inside the repository")
            continue
        dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        dest_real = os.path.realpath(dest)
        if os.path.commonpath([dest_real, repo_real]) != repo_real:
            bad(page, no, f"link '{target}' leads outside the repository")
            continue
        if not os.path.exists(dest):
            bad(page, no, f"link '{target}': no such file {os.path.relpath(dest, repo)}")
            continue
        if frag and dest.endswith(".md") and frag not in anchors(dest):
            bad(page, no, f"link '{target}': {os.path.relpath(dest, repo)} has no heading with anchor #{frag}")

# b. test names in docs/BAD-INPUT.md
tests_dir = os.path.join(build, "tests")
# cnnbench-gpu-host-tests exists in CUDA builds only; elsewhere its tests are in cnnbench-tests.
binaries = {"cnnbench-tests": None, "cnnbench-gpu-host-tests": None, "cnnbench-mpi-tests": "mpi",
            "cnnbench-gpu-tests": "gpu"}
names = set()       # full gtest names, Prefix/Suite.Test/Case
not_built = []
for b, srcdir in binaries.items():
    exe = os.path.join(tests_dir, b)
    if os.access(exe, os.X_OK):
        out = run([exe, "--gtest_list_tests"], f"{exe} --gtest_list_tests")
        suite = None
        for l in (out or "").split("\n"):
            if not l.strip() or l.startswith("Running main()"):
                continue
            if not l.startswith(" "):
                suite = l.split("#")[0].strip().rstrip(".")
            elif suite:
                names.add(suite + "." + l.split("#")[0].strip())
    elif srcdir is not None:
        # Not built here (no MPI, no CUDA): the test sources stand in, TEST(Suite, Name) and TEST_F/TEST_P.
        not_built.append(b)
        for src in glob.glob(os.path.join(repo, "tests", srcdir, "*.cpp")):
            with open(src, encoding="utf-8") as f:
                for s, t in re.findall(r"\bTEST(?:_F|_P)?\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)", f.read()):
                    names.add(f"{s}.{t}")
ctest_names = set()
for f in glob.glob(os.path.join(build, "**", "CTestTestfile.cmake"), recursive=True):
    with open(f, encoding="utf-8") as fh:
        ctest_names.update(re.findall(r"add_test\(\[=\[(.*?)\]=\]", fh.read()))
# Tests that only some builds register (the GPU module's, in CUDA builds): named by the repository's CMake files.
ctest_in_sources = set()
for f in glob.glob(os.path.join(repo, "tests", "**", "CMakeLists.txt"), recursive=True):
    with open(f, encoding="utf-8") as fh:
        ctest_in_sources.update(re.findall(r"add_test\(\s*NAME\s+([\w.]+)", fh.read()))

def split(full):
    suite, _, test = full.partition(".")
    return suite, test

def suite_is(suite, want):
    return suite == want or suite.endswith("/" + want)

def test_exists(tok):
    if re.fullmatch(r"\w+\.\*", tok):                           # Suite.*
        want = tok[:-2]
        return any(suite_is(split(n)[0], want) for n in names)
    if re.fullmatch(r"\w+\.\w+", tok):                          # Suite.Name (or a parameterised Name/…)
        want_s, want_t = tok.split(".")
        return any(suite_is(s, want_s) and (t == want_t or t.startswith(want_t + "/"))
                   for s, t in map(split, names))
    if re.fullmatch(r"\w+/\w+", tok):                           # Suite/Case: --gtest_filter='*Suite*/Case'
        want_s, want_c = tok.split("/")
        return any(suite_is(s, want_s) and t.endswith("/" + want_c) for s, t in map(split, names))
    return None

bad_input = os.path.join(repo, "docs", "BAD-INPUT.md")
if not os.path.exists(bad_input):
    problems.append("docs/BAD-INPUT.md: missing")
else:
    col, checked = None, 0
    for no, l in enumerate(read_lines(bad_input), 1):
        if not l.startswith("|"):
            col = None                                          # a table ends at its first other line
            continue
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        if col is None:
            col = cells.index("test") if "test" in cells else -1
            continue
        if col < 0 or set(l) <= set("|-: "):
            continue
        if len(cells) <= col:
            bad(bad_input, no, "a row with no test column")
            continue
        cell = cells[col]
        if not cell and cells[0].startswith("**") and not any(cells[1:]):
            continue                                            # a section row
        outside = re.sub(r"\([^)]*\)", "", cell)
        toks = re.findall(r"`([^`]+)`", outside)
        for inside in re.findall(r"\(([^)]*)\)", cell):
            for c in re.findall(r"ctest\s+`([^`]+)`", inside):
                checked += 1
                if c not in ctest_names and c not in ctest_in_sources:
                    bad(bad_input, no, f"ctest test '{c}' is not registered in {os.path.relpath(build)} "
                        "nor added by tests/CMakeLists.txt")
        if not toks:
            bad(bad_input, no, "a row that names no test")
        for tok in toks:
            checked += 1
            ok = test_exists(tok)
            if ok is None:
                bad(bad_input, no, f"'{tok}' is not a test name (Suite.Name, Suite.*, Suite/Case)")
            elif not ok:
                bad(bad_input, no, f"test '{tok}' does not exist in the test binaries"
                    + (f" (not built here: {', '.join(not_built)}; their sources were read)" if not_built else ""))
    counts["tests"] = checked
    if checked == 0:
        bad(bad_input, 1, "no table with a 'test' column, or no test named in it")

# c. flags: docs/CLI.md against --help
cli = os.path.join(repo, "docs", "CLI.md")
flag_re = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*")
if not os.path.exists(cli):
    problems.append("docs/CLI.md: missing")
else:
    cli_lines = read_lines(cli)
    for cmd in ("train", "sweep"):
        help_text = run([os.path.join(build, "cnnbench"), cmd, "--help"], f"cnnbench {cmd} --help")
        if help_text is None:
            continue
        help_flags = set(flag_re.findall(help_text))
        counts["flags"] += len(help_flags)
        start = next((i for i, l in enumerate(cli_lines) if re.match(rf"##\s+`?cnnbench {cmd}`?\s*$", l)), None)
        if start is None:
            bad(cli, 1, f"no section '## `cnnbench {cmd}`'")
            continue
        end = next((i for i in range(start + 1, len(cli_lines)) if re.match(r"##?\s", cli_lines[i])), len(cli_lines))
        section = {}
        for i in range(start, end):
            for f in flag_re.findall(cli_lines[i]):
                section.setdefault(f, i + 1)
        for f in sorted(help_flags - set(section)):
            bad(cli, start + 1, f"`cnnbench {cmd} --help` has {f}, which this section does not document")
        for f, line in sorted(section.items(), key=lambda x: x[1]):
            if f not in help_flags:
                bad(cli, line, f"{f} is documented for `cnnbench {cmd}` but `cnnbench {cmd} --help` has no such flag")

# d. the run record against docs/RECORD.md
record_md = os.path.join(repo, "docs", "RECORD.md")
if not os.path.exists(record_md):
    problems.append("docs/RECORD.md: missing")
else:
    out = os.path.join(tmp, "run.json")
    if run([os.path.join(build, "cnnbench"), "train", "--dataset", "synthetic:n=64,shape=1x8x8,classes=2",
            "--model", "fc2", "--epochs", "1", "--batch", "16", "--threads", "1", "--out", out],
           "cnnbench train (the quick run whose record is checked)") is not None:
        with open(out, encoding="utf-8") as f:
            record = json.load(f)
        rows = {}                                               # documented field -> (line, meaning)
        for no, l in enumerate(read_lines(record_md), 1):
            if l.startswith("|") and not set(l) <= set("|-: "):
                cells = [c.strip() for c in l.strip().strip("|").split("|")]
                if len(cells) >= 2 and cells[0] != "field":
                    for name in re.findall(r"`([^`]+)`", cells[0]):
                        rows[name.rstrip("[]")] = (no, "|".join(cells[1:]))
        counts["fields"] = len(record) + len(record.get("timing") or {})
        for key in record:
            if key not in rows:
                bad(record_md, 1, f"the run record has the top-level field '{key}', which the table does not list")
        for name, (no, _) in rows.items():
            if name not in record:
                bad(record_md, no, f"the table lists '{name}', which a run record (cnnbench.run/1) does not have")
        if "timing" in rows and isinstance(record.get("timing"), dict):
            no, meaning = rows["timing"]
            for key in record["timing"]:
                if f"`{key}`" not in meaning:
                    bad(record_md, no, f"the record's timing.{key} is not documented in the timing row")

# e. README length
readme = os.path.join(repo, "README.md")
n = len(read_lines(readme)) - (1 if open(readme, encoding="utf-8").read().endswith("\n") else 0)
if n > 140:
    bad(readme, n, f"README.md has {n} lines; at most 140 (move reference material into docs/)")

if problems:
    print(f"docs_check: {len(problems)} problem(s):")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"docs_check: README.md ({n} lines) and {len(pages) - 1} docs pages match the repository and the binaries in {build}: "
      f"{counts['links']} links, {counts['tests']} test names, {counts['flags']} flags of train and sweep, "
      f"{counts['fields']} record fields (top level and timing)")
PY
