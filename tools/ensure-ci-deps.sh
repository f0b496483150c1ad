#!/bin/sh
# The extra tools CI uses beyond the build's own packages: clang (libFuzzer)
# and valgrind. Installed only when absent (Debian, as root).
set -e
missing=""
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing:$missing (run as root, or install them with apt-get)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
