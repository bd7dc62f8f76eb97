"""The scripts Gradescope runs: ``setup.sh`` once, ``run_autograder`` per submission."""

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: bubblewrap,
# a Python of its own (3.11 or later) with the exact packages the course graded with,
# the course's helper package for the kernel, and the autograder locked away from
# student code. Made by backprop_autograder.gradescope; see its docstring.
set -euo pipefail
SOURCE=/autograder/source
VENV=/autograder/venv
export DEBIAN_FRONTEND=noninteractive

apt-get update
apt-get install -y --no-install-recommends bubblewrap util-linux ca-certificates

recent_enough() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
PYTHON=""
for candidate in python3 python3.13 python3.12 python3.11; do
  if command -v "$candidate" >/dev/null && recent_enough "$candidate"; then
    PYTHON="$candidate"; break
  fi
done
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04's own Python is 3.10; its universe has 3.11
  apt-get install -y --no-install-recommends python3.11 python3.11-venv
  PYTHON=python3.11
fi
VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
apt-get install -y --no-install-recommends "python$VERSION-venv" || true
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-cache-dir --upgrade pip
"$VENV/bin/python" -m pip install --no-cache-dir -r "$SOURCE/requirements.txt"

# The helper package the notebooks import, where the kernel's Python finds it.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -rf "$SITE/backprop_course"
cp -r "$SOURCE/course_package/backprop_course" "$SITE/"
chmod -R a+rX "$VENV"

# The autograder, the hidden answers and the gradebook: root's alone. Student code
# never runs as root (the sandbox, or an unprivileged user of its own).
chown -R root:root "$SOURCE"
chmod -R go-rwx "$SOURCE"

"$VENV/bin/python" -c 'import backprop_course, ipykernel, nbgrader, numpy'
echo "setup.sh: the autograder is ready ($("$VENV/bin/python" --version))"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission: nbgrader grades the notebook in
# $ROOT/submission with the course's checks, and results.json gets the scores.
# Made by backprop_autograder.gradescope; see its docstring.
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PYTHON="${BACKPROP_GRADESCOPE_PYTHON:-/autograder/venv/bin/python}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
cd "$ROOT" || exit 1
PYTHONPATH="$ROOT/source/python" "$PYTHON" -m backprop_autograder.gradescope run --root "$ROOT"
status=$?
if [ ! -s "$RESULTS" ]; then  # the grader could not even start: still a results.json
  cat > "$RESULTS" <<'EOF'
{"score": 0, "stdout_visibility": "hidden", "tests": [],
 "output": "The autograder failed before it could grade this submission: nothing was graded."}
EOF
fi
exit "$status"
"""
