/*
 * mstack.c — the VM's stacks on heap pages (the idea of Go's stack.go).
 *
 * A stack is one manual span (allocManual(spanAllocStack)) of whole pages:
 * StackInuse/StackSys count it, the heap's in-use figures do not, and the
 * collector never sweeps it. The VM grows a stack by allocating a larger one
 * and copying, as Go grows goroutine stacks. There are no per-size stack
 * caches: VM stacks are few and long-lived.
 */
#include "mem/malloc.h"
#include "mem/mheap.h"
#include "mem/runtime.h"

void *stackalloc(runtime *rt, size_t bytes)
{
	if (bytes == 0 || bytes > maxAlloc)
		return NULL;
	uintptr_t npages = divRoundUp(bytes, pageSize);
	/* Stacks count against the hard cap too, but never collect: the only
	 * collection points are mallocgc and explicit calls. */
	if (rt->maxHeap > 0 && sysMemStat_load(&rt->gcController.heapInUse) +
	                               (uint64_t)rt->memstats.heapStats.inStacks +
	                               npages * pageSize > (uint64_t)rt->maxHeap)
		return NULL;
	mspan *s = mheap_allocManual(rt, npages, spanAllocStack);
	return s == NULL ? NULL : (void *)s->startAddr;
}

void stackfree(runtime *rt, void *p, size_t bytes)
{
	if (p == NULL)
		return;
	/* A wrong pointer or size is a VM bug: fail loudly rather than free
	 * someone else's pages. */
	mspan *s = spanOf(rt, (uintptr_t)p);
	if (s == NULL || s->state != mSpanManual || s->startAddr != (uintptr_t)p ||
	    s->npages != divRoundUp(bytes, pageSize))
		mthrow("stackfree: not a stack allocated by stackalloc");
	mheap_freeManual(rt, s, spanAllocStack);
}
