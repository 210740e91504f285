// The SIGBUS guard declared in vitrine_support.h.
#define _GNU_SOURCE
#include "vitrine_support.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS 256

typedef struct {
    _Atomic uintptr_t base;   // 0: free
    _Atomic size_t length;
    _Atomic int faulted;
} region_t;

static region_t regions[SLOTS];
static struct sigaction previous;
static atomic_flag installing = ATOMIC_FLAG_INIT;
static _Atomic int installed = 0;

static void on_sigbus(int signal, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t base = atomic_load(&regions[i].base);
        size_t length = atomic_load(&regions[i].length);
        if (base > 1 && address >= base && address < base + length) {
            long page = sysconf(_SC_PAGESIZE);
            uintptr_t start = address & ~((uintptr_t)page - 1);
            // A private page of zeros where the file has none: mmap is async-signal-safe on Linux.
            void *zeros = mmap((void *)start, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            if (zeros != MAP_FAILED) {
                atomic_store(&regions[i].faulted, 1);
                return;
            }
            break;
        }
    }
    // Not ours: what would have happened without the guard.
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) { previous.sa_sigaction(signal, info, context); return; }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler) {
        previous.sa_handler(signal);
        return;
    }
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &fallback, NULL);
    raise(SIGBUS);
}

static void install(void) {
    if (atomic_load(&installed)) return;
    while (atomic_flag_test_and_set(&installing)) { }
    if (!atomic_load(&installed)) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(SIGBUS, &action, &previous);
        atomic_store(&installed, 1);
    }
    atomic_flag_clear(&installing);
}

int vitrine_mapping_register(void *base, size_t length) {
    if (base == NULL || length == 0) return -1;
    install();
    for (int i = 0; i < SLOTS; i++) {
        uintptr_t expected = 0;
        // Claim a free slot with the placeholder 1 (no region, length 0, matches no address),
        // fill it, then publish the real base.
        if (!atomic_compare_exchange_strong(&regions[i].base, &expected, (uintptr_t)1)) continue;
        atomic_store(&regions[i].length, length);
        atomic_store(&regions[i].faulted, 0);
        atomic_store(&regions[i].base, (uintptr_t)base);
        return i;
    }
    return -1;
}

void vitrine_mapping_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    atomic_store(&regions[slot].length, 0);
    atomic_store(&regions[slot].base, 0);
}

int vitrine_mapping_faulted(int slot) {
    if (slot < 0 || slot >= SLOTS) return 0;
    return atomic_load(&regions[slot].faulted);
}
