#!/bin/sh
# Outside mem/mem_linux.c (which defines them) and mem/mem.c (whose accounted
# sysX functions call their sysXOS twins), the unaccounted ...OS functions may
# be called only at the three documented exceptions (mem/mem.h):
#   1. the arena index L2 map          sysAllocOS in mem/mheap.c
#   2. discarding reservations         sysFreeOS in mem/malloc.c (trimming),
#      and teardown of a runtime        mem/mheap.c (failed hints, teardown),
#                                       mem/mbitmap.c, mem/mpagealloc*.c (teardown)
#   3. the debug log                   sysAllocOS/sysFreeOS in mem/debuglog.c
# Usage: tests/check_os_calls.sh [project root]
cd "${1:-.}" || exit 2
status=0
hits=$(grep -nE '\bsys[A-Za-z]*OS\(' mem/*.c gc/*.c vm/*.c stdlib/*.c cli/*.c 2>/dev/null |
	grep -vE '^mem/mem_linux\.c:|^mem/mem\.c:')
IFS='
'
for hit in $hits; do
	file=${hit%%:*}
	call=$(printf '%s\n' "$hit" | grep -oE '\bsys[A-Za-z]*OS\(' | head -1)
	case "$file:$call" in
	mem/mheap.c:sysAllocOS\() ;;
	mem/debuglog.c:sysAllocOS\() ;;
	mem/debuglog.c:sysFreeOS\() ;;
	mem/malloc.c:sysFreeOS\() ;;
	mem/mheap.c:sysFreeOS\() ;;
	mem/mbitmap.c:sysFreeOS\() ;;
	mem/mpagealloc*.c:sysFreeOS\() ;;
	*)
		echo "unaccounted OS call outside the documented exceptions: $hit"
		status=1
		;;
	esac
done
# The L2 map must stay the only sysAllocOS in the heap.
n=$(grep -cE '\bsysAllocOS\(' mem/mheap.c)
if [ "$n" -ne 1 ]; then
	echo "mem/mheap.c: expected exactly one sysAllocOS (the arena L2 map), found $n"
	status=1
fi
exit $status
