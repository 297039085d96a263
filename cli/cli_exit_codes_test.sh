#!/bin/sh
# Runs the real nvmevm binary and checks the exit codes and messages of docs/exit-codes.md that
# need no /dev/kvm: help, version, bad command lines, bad configs.
# Usage: cli_exit_codes_test.sh PATH/TO/nvmevm PATH/TO/nvmevm-test-guest
# The test guest is a kernel `check` accepts: a flag's check is then reached with a config that
# passes, so no missing file can give the expected exit code in its place.
set -eu

nvmevm=$1
guest=$(realpath "$2")  # the config names it; a relative path would be from the config's folder
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE TEXT -- ARGS...: runs nvmevm ARGS, checks the exit code and that TEXT appears in
# its output (stdout and stderr together).
expect() {
    code=$1 text=$2
    shift 3
    set +e
    "$nvmevm" "$@" >"$dir/out" 2>&1
    got=$?
    set -e
    if [ "$got" -ne "$code" ]; then
        fail "nvmevm $*: exit code $got, expected $code; output:"
        cat "$dir/out" >&2
    elif ! grep -qF -- "$text" "$dir/out"; then
        fail "nvmevm $*: output lacks '$text'; output:"
        cat "$dir/out" >&2
    fi
}

expect 0 "Usage" -- --help
expect 0 "--config" -- run --help
expect 0 "nvmevm " -- --version
expect 2 "nvmevm: error:" -- --no-such-flag
expect 2 "nvmevm: error:" --
expect 2 "nvmevm: error:" -- run

printf '[boot]\nkernel = "%s"\n' "$guest" >"$dir/ok.toml"
expect 0 "$dir/ok.toml: ok" -- check --config "$dir/ok.toml"
expect 2 "nvmevm: error: --log-level: chatty not in {error,warn,info,debug}" -- \
    check --config "$dir/ok.toml" --log-level chatty
expect 2 "nvmevm: error: Could not convert: --vcpus = many" -- \
    check --config "$dir/ok.toml" --vcpus many
# --drive takes one path: the second of "--drive a b" is refused, not swallowed.
head -c 4096 /dev/zero >"$dir/a.img"
head -c 4096 /dev/zero >"$dir/b.img"
expect 0 "$dir/ok.toml: ok" -- check --config "$dir/ok.toml" --drive "$dir/a.img" --drive "$dir/b.img"
expect 2 "nvmevm: error: The following argument was not expected: $dir/b.img" -- \
    check --config "$dir/ok.toml" --drive "$dir/a.img" "$dir/b.img"

expect 2 "nvmevm: error: $dir/missing.toml: cannot open" -- check --config "$dir/missing.toml"

printf '[machine]\nvcpus = 2\nmemory_mib = = 3\n' >"$dir/syntax.toml"
expect 2 "nvmevm: error: $dir/syntax.toml:3:" -- check --config "$dir/syntax.toml"

printf '[machine]\nvcpus = 0\n' >"$dir/zero.toml"
expect 2 "$dir/zero.toml:2:9: vcpus must be between 1" -- check --config "$dir/zero.toml"

printf '[boot]\nkernel = "no-such-kernel"\n' >"$dir/vm.toml"
expect 2 "$dir/vm.toml:2:10: kernel" -- check --config "$dir/vm.toml"
expect 2 "command line: --vcpus: vcpus must be between 1" -- run --config "$dir/ok.toml" --vcpus 0

expect 2 "command line: --drive-engine: --drive-engine sets the engine" -- \
    check --config "$dir/ok.toml" --drive-engine null

printf 'not a kernel, just text\n' >"$dir/text"
expect 2 "command line: --kernel: kernel \"$dir/text\": not a kernel" -- \
    check --config "$dir/ok.toml" --kernel "$dir/text"

# The reader of nvmevm's standard output is gone (`nvmevm ... | head -1`): nvmevm ignores
# SIGPIPE, so the write fails with EPIPE instead of killing it (141 in the shell). A FIFO opened
# for reading and writing, then for writing, then closed for reading is a pipe without a reader.
mkfifo "$dir/fifo"
exec 3<>"$dir/fifo" 4>"$dir/fifo" 3<&-
set +e
"$nvmevm" check --config "$dir/ok.toml" >&4 2>"$dir/out"
got=$?
set -e
exec 4>&-
if [ "$got" -ne 0 ]; then
    fail "nvmevm check with stdout a pipe without a reader: exit code $got, expected 0"
    cat "$dir/out" >&2
fi

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all checks passed"
