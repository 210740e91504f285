// A fork-join pool for the numeric kernels: persistent workers that spin
// briefly between jobs, then sleep on a futex.
//
// Why: a caption at batch 1 runs ~100 parallel regions of 10-50 us each.
// Waking a Dispatch worker for each cost about as much as the work itself, so
// splitting a product over the two cores gained nothing. Here a worker that
// finished a job keeps polling for the next one for SPIN_NANOSECONDS, so the
// regions of one forward pass find it awake; an idle program sleeps.
//
// Jobs are claimed task by task with one 64-bit word, (generation << 32) |
// next task, so a worker that wakes late can never take a task of a later
// job under an earlier job's function. A job's fields stay valid until every
// task has finished, because the caller waits for that before returning.

#include "ckernels.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#define HAVE_FUTEX 1
#else
#define HAVE_FUTEX 0
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

enum { MAX_WORKERS = 63 };
static const int64_t SPIN_NANOSECONDS = 200 * 1000;

static struct {
    // Published job: written by the caller before it bumps `generation`.
    vitrine_task_fn fn;
    void *context;
    int tasks;
    _Atomic uint64_t claim;      // (generation << 32) | next unclaimed task
    _Atomic int done;            // tasks finished in the current job
    _Atomic uint32_t generation; // futex word; bumped once per job
    _Atomic int sleepers;        // workers blocked (or about to block) on the futex
    atomic_flag busy;            // one job at a time; others run inline
    int workers;
} pool = { .busy = ATOMIC_FLAG_INIT };

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static int64_t now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// Claims and runs tasks of job `generation` until none is left.
static void run_tasks(uint32_t generation) {
    uint64_t claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(claim >> 32) != generation) return;
        uint32_t task = (uint32_t)claim;
        if ((int)task >= pool.tasks) return;
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &claim, claim + 1, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            pool.fn(pool.context, (int)task);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
        }
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    uint32_t seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
    for (;;) {
        uint32_t generation = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (generation == seen) {
            // Spin for a while: the next region of a forward pass is usually microseconds away.
            int64_t deadline = now_nanoseconds() + SPIN_NANOSECONDS;
            unsigned polls = 0;
            while ((generation = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen) {
                CPU_RELAX();
                if ((++polls & 255u) == 0 && now_nanoseconds() > deadline) break;
            }
        }
        if (generation == seen) {
#if HAVE_FUTEX
            atomic_fetch_add_explicit(&pool.sleepers, 1, memory_order_seq_cst);
            if (atomic_load_explicit(&pool.generation, memory_order_seq_cst) == seen)
                syscall(SYS_futex, (uint32_t *)&pool.generation, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
            atomic_fetch_sub_explicit(&pool.sleepers, 1, memory_order_seq_cst);
#else
            sched_yield();
#endif
            continue;
        }
        seen = generation;
        run_tasks(generation);
    }
    return NULL;
}

static void start_pool(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int wanted = cores > 1 ? (int)(cores - 1) : 0;
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int started = 0;
    for (int i = 0; i < wanted; i++) {
        pthread_t thread;
        if (pthread_create(&thread, &attributes, worker_main, NULL) == 0) started++;
    }
    pthread_attr_destroy(&attributes);
    pool.workers = started;
}

int vitrine_pool_workers(void) {
    pthread_once(&pool_once, start_pool);
    return pool.workers;
}

void vitrine_pool_run(int tasks, vitrine_task_fn fn, void *context) {
    if (tasks <= 0) return;
    pthread_once(&pool_once, start_pool);
    // One task, no workers, or the pool already busy (another thread's job, or a
    // task that itself splits its work): run everything here, in order.
    if (tasks == 1 || pool.workers == 0 || atomic_flag_test_and_set_explicit(&pool.busy, memory_order_acquire)) {
        for (int t = 0; t < tasks; t++) fn(context, t);
        return;
    }
    pool.fn = fn;
    pool.context = context;
    pool.tasks = tasks;
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t generation = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool.claim, (uint64_t)generation << 32, memory_order_release);
    atomic_store_explicit(&pool.generation, generation, memory_order_seq_cst);
#if HAVE_FUTEX
    if (atomic_load_explicit(&pool.sleepers, memory_order_seq_cst) > 0)
        syscall(SYS_futex, (uint32_t *)&pool.generation, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#endif
    run_tasks(generation);
    // Wait for tasks the workers claimed; yield if one of them was preempted.
    for (unsigned polls = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < tasks; polls++) {
        if (polls < 4096) CPU_RELAX(); else sched_yield();
    }
    atomic_flag_clear_explicit(&pool.busy, memory_order_release);
}
