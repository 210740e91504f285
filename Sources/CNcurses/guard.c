/*
 * Signals, the self-pipe and the crash guard for the terminal back end.
 *
 * Everything a signal handler touches is prepared in advance; handlers only
 * call async-signal-safe functions (write, tcsetattr, sigaction, raise).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cncurses.h"

static int pipe_fds[2] = {-1, -1};

/* The screen is open (between arm and disarm). */
static volatile sig_atomic_t armed = 0;

/* The terminal modes before curses changed them. */
static struct termios saved_modes;
static int have_saved_modes = 0;

/* Escape sequences that leave full-screen mode, built from terminfo at arm time. */
static char restore_seq[512];
static size_t restore_len = 0;

/* Handlers in place before newterm (restored by disarm) and, for SIGWINCH,
   the one ncurses installed (chained by ours). */
static struct sigaction before_newterm[NSIG];
static unsigned char saved_before[NSIG];
static struct sigaction curses_winch;
static struct sigaction previous_fatal[NSIG];

static const int request_signals[] = {SIGINT, SIGTERM, SIGHUP};
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGQUIT};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- Self-pipe */

int vt_pipe_open(void) {
    if (pipe_fds[0] >= 0) return pipe_fds[0];
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        pipe_fds[0] = pipe_fds[1] = -1;
        return -1;
    }
    return pipe_fds[0];
}

void vt_pipe_close(void) {
    int r = pipe_fds[0], w = pipe_fds[1];
    pipe_fds[0] = pipe_fds[1] = -1;
    if (r >= 0) close(r);
    if (w >= 0) close(w);
}

static void pipe_put(unsigned char byte) {
    int fd = pipe_fds[1];
    if (fd < 0) return;
    int saved_errno = errno;
    /* A full pipe already holds a pending wake-up: dropping this byte loses nothing
       for wakes; for signals the pipe (64 KiB) cannot fill up in practice. */
    ssize_t r;
    do { r = write(fd, &byte, 1); } while (r < 0 && errno == EINTR);
    errno = saved_errno;
}

void vt_wake(void) { pipe_put(0); }

int vt_pipe_drain(unsigned char *bytes, int capacity, int *dropped) {
    int count = 0;
    int lost = 0;
    unsigned char buffer[256];
    if (pipe_fds[0] < 0) { if (dropped) *dropped = 0; return 0; }
    for (;;) {
        ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; i++) {
            if (count < capacity) bytes[count++] = buffer[i]; else lost++;
        }
    }
    if (dropped) *dropped = lost;
    return count;
}

/* ---- Handlers */

static void on_request(int sig) { pipe_put((unsigned char)sig); }

static void on_winch(int sig) {
    /* ncurses' own handler records the resize (KEY_RESIZE comes from get_wch). */
    if (curses_winch.sa_flags & SA_SIGINFO) {
        if (curses_winch.sa_sigaction) curses_winch.sa_sigaction(sig, NULL, NULL);
    } else if (curses_winch.sa_handler != SIG_DFL && curses_winch.sa_handler != SIG_IGN) {
        curses_winch.sa_handler(sig);
    }
    pipe_put((unsigned char)sig);
}

static void write_all(int fd, const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w; n -= (size_t)w;
    }
}

/* ---- Crash cleanup: bytes the crash path writes before restore_seq (the kitty image deletes
   of GraphicsPainter.crashCleanup, which must reach the terminal before it leaves the alternate
   screen). Written by the UI thread, read by a signal handler on any thread: the length is
   cleared before the copy and published after it, so a reader sees 0 or a whole sequence. */
#define CLEANUP_CAPACITY 8192
static unsigned char cleanup_bytes[CLEANUP_CAPACITY];
static volatile sig_atomic_t cleanup_len = 0;

void vt_guard_set_cleanup(const unsigned char *bytes, int length) {
    cleanup_len = 0;
    atomic_thread_fence(memory_order_seq_cst);
    /* Longer than the buffer: keep nothing rather than a cut sequence. */
    if (bytes == NULL || length <= 0 || length > CLEANUP_CAPACITY) return;
    memcpy(cleanup_bytes, bytes, (size_t)length);
    atomic_thread_fence(memory_order_seq_cst);
    cleanup_len = (sig_atomic_t)length;
}

/* Async-signal-safe: write(2) and a lock-free fence. */
static void write_cleanup(void) {
    int n = (int)cleanup_len;
    atomic_thread_fence(memory_order_acquire);
    if (n > 0 && n <= CLEANUP_CAPACITY) write_all(STDOUT_FILENO, (const char *)cleanup_bytes, (size_t)n);
}

static void restore_terminal_now(void) {
    if (!armed) return;
    armed = 0;
    write_cleanup();
    if (restore_len > 0) write_all(STDOUT_FILENO, restore_seq, restore_len);
    if (have_saved_modes) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_modes);
}

static int index_of(const int *list, int n, int sig) {
    for (int i = 0; i < n; i++) if (list[i] == sig) return i;
    return -1;
}

static void on_fatal(int sig, siginfo_t *info, void *context) {
    restore_terminal_now();
    /* Hand the signal to whoever had it before us (e.g. the Swift runtime's
       backtracer), then die with the default action if that returns. */
    struct sigaction prev = previous_fatal[sig];
    sigaction(sig, &prev, NULL);
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) prev.sa_sigaction(sig, info, context);
    } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    /* Blocked while this handler runs: delivered with the default action on return. */
    raise(sig);
}

static void at_exit_hook(void) {
    if (armed) {
        armed = 0;
        write_cleanup();
        endwin();
    }
}

/* ---- Arm / disarm */

void vt_guard_save_modes(void) {
    have_saved_modes = tcgetattr(STDIN_FILENO, &saved_modes) == 0;
    /* Remember the handlers as they are before ncurses installs its own. */
    const int all[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP,
                       SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGQUIT};
    for (int i = 0; i < COUNT(all); i++) {
        saved_before[all[i]] = sigaction(all[i], NULL, &before_newterm[all[i]]) == 0;
    }
}

/* Appends a terminfo string capability to restore_seq, without padding ($<..>). */
static void append_cap(const char *cap) {
    const char *s = tigetstr(cap);
    if (s == NULL || s == (char *)-1) return;
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && p[1] == '<') {
            const char *end = strchr(p, '>');
            if (end) { p = end; continue; }
        }
        if (restore_len + 1 < sizeof restore_seq) restore_seq[restore_len++] = *p;
    }
}

static void append_literal(const char *s) {
    size_t n = strlen(s);
    if (restore_len + n < sizeof restore_seq) {
        memcpy(restore_seq + restore_len, s, n);
        restore_len += n;
    }
}

void vt_guard_arm(int mouse) {
    static int hook_registered = 0;
    restore_len = 0;
    if (mouse) append_literal("\033[?1006l\033[?1003l\033[?1002l\033[?1000l");
    append_cap("sgr0");
    append_cap("rmkx");
    append_cap("cnorm");
    append_cap("rmcup");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_request;
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < COUNT(request_signals); i++) sigaction(request_signals[i], &sa, NULL);

    sigaction(SIGWINCH, NULL, &curses_winch);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);

    struct sigaction fatal;
    memset(&fatal, 0, sizeof fatal);
    sigemptyset(&fatal.sa_mask);
    fatal.sa_sigaction = on_fatal;
    fatal.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (int i = 0; i < COUNT(fatal_signals); i++) {
        int sig = fatal_signals[i];
        sigaction(sig, &fatal, &previous_fatal[sig]);
    }
    /* A parent may have blocked these (a thread pool's mask is inherited
       across fork and exec): unblock them here, on the UI thread, or the
       handlers above would never run. */
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int i = 0; i < COUNT(request_signals); i++) sigaddset(&wanted, request_signals[i]);
    sigaddset(&wanted, SIGWINCH);
    sigaddset(&wanted, SIGTSTP);
    sigaddset(&wanted, SIGCONT);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
    armed = 1;
    if (!hook_registered) {
        hook_registered = 1;
        atexit(at_exit_hook);
    }
}

void vt_guard_disarm(void) {
    armed = 0;
    const int all[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP,
                       SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGQUIT};
    for (int i = 0; i < COUNT(all); i++) {
        int sig = all[i];
        if (saved_before[sig]) {
            sigaction(sig, &before_newterm[sig], NULL);
        } else if (index_of(fatal_signals, COUNT(fatal_signals), sig) >= 0) {
            sigaction(sig, &previous_fatal[sig], NULL);
        }
    }
}

int vt_guard_is_armed(void) { return armed ? 1 : 0; }
