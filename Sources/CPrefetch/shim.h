// Software prefetch for Swift, which cannot import the compiler's prefetch intrinsics (they
// are macros). Header-only: nothing is linked.
#ifndef TRIBUTARY_PREFETCH_SHIM_H
#define TRIBUTARY_PREFETCH_SHIM_H

/// Asks for the cache line at `address` to be brought toward the core (into L2 on x86-64:
/// `prefetcht1`) without waiting for it; never faults.
static inline void tributary_prefetch(const void *address) { __builtin_prefetch(address, 0, 2); }

#endif
