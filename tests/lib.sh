# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Result accounting shared by the suite's own test scripts: each check is
# one KTAP line, and the counts end in "N passed, N failed, N skipped".

passed=0
failed=0
skipped=0
xfailed=0
checks=0

ok() {
	checks=$((checks + 1))
	passed=$((passed + 1))
	echo "ok $checks $*"
}

not_ok() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "not ok $checks $*"
}

skip() {
	checks=$((checks + 1))
	skipped=$((skipped + 1))
	echo "ok $checks $* # SKIP"
}

# A known issue's expected failure: not a pass; counted apart, and in
# the closing line with the skips.
xfail() {
	checks=$((checks + 1))
	xfailed=$((xfailed + 1))
	echo "ok $checks $*"
}

# check NAME CONDITION-COMMAND...: one result from a command's exit status.
check() {
	local name=$1

	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# jq_holds FILTER FILE: the filter is true for the JSON in FILE.
jq_holds() {
	jq -e "$1" "$2" >/dev/null 2>&1
}

# Print the last lines of a log as KTAP diagnostics.
show_log() {
	tail -n "${2:-20}" "$1" | sed 's/^/# /'
}

summary() {
	[ "$xfailed" -eq 0 ] || echo "# $xfailed XFAIL (known issues), counted with the skipped"
	echo "$passed passed, $failed failed, $((skipped + xfailed)) skipped"
	[ "$failed" -eq 0 ]
}

# patched_images PATCH...: build stock and one kernel per patch (files or
# directories, scripts/rig/patched-kernels.sh) into the caller's
# associative array "image", kernel name to bzImage.  Fails if the build
# did, or left stock out.
patched_images() {
	local name path

	while read -r name path; do
		# shellcheck disable=SC2004 # the caller's associative array
		image[$name]=$path
	done < <("$SRC/scripts/rig/patched-kernels.sh" "$@")
	[ -n "${image[stock]:-}" ]
}
