# Where moto lives, for the aws-vpc integration tests (source this file).
# moto 5 and boto3 come with pyenv's Python, which PATH may lack (no shims)
# and whose shims pick a version by PYENV_VERSION or the cwd's
# .python-version: so look for an interpreter that really imports both and
# use its real path from then on.
# shellcheck shell=bash

# moto_python: prints the python3 that imports moto and boto3 (an absolute
# path, valid from any cwd); returns 1 with a message when none does.
moto_python() {
	local root=${PYENV_ROOT:-$HOME/.pyenv} c exe
	for c in "$(command -v python3 || true)" "$root/shims/python3" \
		"$root"/versions/*/bin/python3; do
		{ [ -n "$c" ] && [ -x "$c" ]; } || continue
		exe=$(cd / && "$c" -c 'import sys, moto, boto3
print(sys.executable)' 2>/dev/null) || continue
		[ -x "$exe" ] && {
			echo "$exe"
			return 0
		}
	done
	echo "moto_python: no python3 imports moto and boto3 (looked at" \
		"PATH, $root/shims and $root/versions/*)" >&2
	return 1
}

# moto_server_cmd [PYTHON]: prints the moto_server beside PYTHON (default:
# moto_python's; pass it to save the look-up), else the one on PATH or in
# pyenv's shims; returns 1 with a message when there is none.
moto_server_cmd() {
	local root=${PYENV_ROOT:-$HOME/.pyenv} py=${1:-} c
	if [ -n "$py" ] || py=$(moto_python 2>/dev/null); then
		c=$(dirname "$py")/moto_server
		[ -x "$c" ] && {
			echo "$c"
			return 0
		}
	fi
	for c in "$(command -v moto_server || true)" "$root/shims/moto_server"; do
		[ -n "$c" ] && [ -x "$c" ] && {
			echo "$c"
			return 0
		}
	done
	echo "moto_server_cmd: no moto_server (looked beside moto_python," \
		"on PATH and in $root/shims)" >&2
	return 1
}

# Run directly (as tests/integration/run.sh does with every *.sh): say
# what was found; not a test, so never a failure.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if py=$(moto_python); then
		echo "$py"
		moto_server_cmd "$py" || true
	fi
	exit 0
fi
