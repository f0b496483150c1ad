#!/bin/sh
# The benchmark compares against Lua 5.4 and CPython; install Lua and GNU time
# when absent (Debian, as root).
missing=""
command -v lua5.4 >/dev/null 2>&1 || missing="$missing lua5.4"
[ -x /usr/bin/time ] || missing="$missing time"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing || apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
else
	echo "note: install$missing for the full comparison" >&2
fi
