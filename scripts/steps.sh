# steps.sh — sourced by setup.sh and test.sh: run the install and build as
# named steps, each of which says what failed and what to do instead of
# leaving the reader with a compiler wall; and a configure step that never
# trusts a build directory left half-made by an earlier, failed run.

# step NAME HINT CMD...: run CMD with its output in a log ($STEP_LOG); on
# failure print NAME, HINT and the log's last lines and exit 1.
NNC_LOG_DIR="${NNC_LOG_DIR:-${TMPDIR:-/tmp}/nnc-setup.$$}"
mkdir -p "$NNC_LOG_DIR"
step() {
  name=$1 hint=$2
  shift 2
  log="$NNC_LOG_DIR/$(echo "$name" | tr -c 'A-Za-z0-9\n' '_').log"
  STEP_LOG=$log
  echo "== $name"
  if "$@" >"$log" 2>&1; then
    return 0
  fi
  echo "" >&2
  echo "error: step '$name' failed: $*" >&2
  echo "---- last lines of $log" >&2
  tail -n 25 "$log" >&2
  echo "----" >&2
  echo "what to do: $hint" >&2
  exit 1
}

# configure DIR ARGS...: cmake -S . -B DIR, retried once from an empty cache
# when the first try fails (a cache from a moved clone, another generator or
# a run that died half-way), so a failed run never makes the next one fail
# differently.
configure() {
  dir=$1
  shift
  if cmake -S . -B "$dir" "$@"; then
    return 0
  fi
  echo "configure failed with the existing $dir/CMakeCache.txt; retrying from an empty cache"
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  cmake -S . -B "$dir" "$@"
}

NNC_DEPS_HINT="install the Debian 12 packages scripts/deps.sh lists (scripts/deps.sh --list), as root: apt-get install \$(scripts/deps.sh --list)"
NNC_CONFIGURE_HINT="a dependency CMake looks for is missing: run scripts/deps.sh (as root, or with sudo), then rerun; the log above names what CMake did not find"
NNC_BUILD_HINT="the build failed on a machine whose packages deps.sh checked: this is a bug in nnc, please report it with the log above (and 'scripts/check-install' output); 'rm -rf build' and rerun rules out a stale build directory"
