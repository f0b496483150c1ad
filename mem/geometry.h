/*
 * geometry.h — the address-space geometry every part of the heap derives
 * from (linux/amd64, as Go's malloc.go): how many address bits the heap may
 * use, the offset that linearises them, and the page size. Arena, chunk and
 * summary sizes are computed from these in malloc.h and mpagealloc.h.
 */
#ifndef GALE_GEOMETRY_H
#define GALE_GEOMETRY_H

#include <stdint.h>

/* Bits of address the heap may use. */
#define heapAddrBits 48
/* Go's amd64 arenaBaseOffset: 0 moves to 0xffff800000000000, so user
 * addresses below 2^47 map to offsets in [2^47, 2^48). */
#define arenaBaseOffset ((uintptr_t)0xffff800000000000ULL)
/* The runtime's page: 8 KiB. */
#define pageShift 13
#define pageSize ((uintptr_t)1 << pageShift)

#endif
