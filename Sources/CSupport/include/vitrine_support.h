// Vitrine's support shims: what Swift cannot do safely by itself.
#ifndef VITRINE_SUPPORT_H
#define VITRINE_SUPPORT_H
#include <stddef.h>

// Bus-error guard for memory-mapped files (docs/architecture.md §5).
//
// A file that is truncated while it is mapped makes the pages past its new end fault with SIGBUS
// when they are read. A region registered here is guarded instead: the faulting page is replaced
// by a page of zeros, the region is marked as faulted, and the read goes on. The owner checks
// `vitrine_mapping_faulted` after reading and reports the file as truncated (and rebuilds it where
// it is a cache). SIGBUS anywhere else keeps its previous handler (or the default action).

/// Registers [base, base+length) and returns a slot (>= 0), or -1 when every slot is taken
/// (the mapping is then simply not guarded).
int vitrine_mapping_register(void *base, size_t length);
/// Forgets a slot returned by vitrine_mapping_register; call it before munmap.
void vitrine_mapping_unregister(int slot);
/// 1 when a read in the slot's region has faulted since it was registered.
int vitrine_mapping_faulted(int slot);

// The group a new pseudo-terminal gets on this system (what devpts gives it before anyone changes
// it), or -1 when no pseudo-terminal can be opened. `vitrine serve` compares it with `tty`.
long vitrine_new_pty_group(void);

// A pseudo-terminal pair for tests that play a terminal: 0 with *master and *slave open for
// reading and writing (neither the controlling terminal, both close-on-exec off), -1 on failure.
int vitrine_open_pty_pair(int *master, int *slave);

#endif
