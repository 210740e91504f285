#pragma once
/*
 * CNcurses: ncursesw for Swift.
 *
 * Swift imports the plain ncurses functions from <curses.h> directly
 * (cbreak, noecho, wget_wch, init_extended_pair, doupdate, ...). What it
 * cannot import lives here: macros (attributes, mouse masks, KEY_F),
 * global variables (stdscr, curscr, LINES, COLS, COLORS, COLOR_PAIRS),
 * the stdio-based newterm, the terminfo probe, and the signal-safe parts
 * that must be written in C (self-pipe, signal handlers, crash guard).
 *
 * Wide-character ncurses needs these before <curses.h>; Package.swift sets
 * them for the C files, and this header sets them for the Swift importer.
 */
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <stddef.h>
#include <wchar.h>
#include <curses.h>

/* ---- Globals that Swift 6 cannot read safely (they are C mutable globals). */
WINDOW *vt_stdscr(void);
WINDOW *vt_curscr(void);
int vt_lines(void);
int vt_cols(void);
/* COLORS and COLOR_PAIRS (valid after start_color). */
int vt_colors(void);
int vt_color_pairs(void);
/* getmaxyx(win, rows, cols). */
void vt_getmaxyx(WINDOW *win, int *rows, int *cols);

/* ---- Attributes. Our own stable bits, turned into curses attr_t here. */
enum {
    VT_ATTR_BOLD = 1,
    VT_ATTR_UNDERLINE = 2,
    VT_ATTR_REVERSE = 4,
    VT_ATTR_DIM = 8,
};
/* The curses attributes (A_BOLD, A_UNDERLINE, A_REVERSE, A_DIM) for VT_ATTR_* bits. */
attr_t vt_attrs(unsigned int vt_attr_bits);
/* COLOR_PAIR(n) as an attribute (only for pairs that fit the attribute bits, <= 255). */
attr_t vt_color_pair_attr(int pair);

/* ---- Keys. */
/* KEY_F(n), n in 0...63. */
int vt_key_f(int n);
/* get_wch on a window: OK (a character in *ch), KEY_CODE_YES (a KEY_* code in *ch) or ERR. */
int vt_get_wch(WINDOW *win, unsigned int *ch);

/* ---- Mouse. The ncurses masks Swift cannot import. */
enum {
    VT_BUTTON1_PRESSED = BUTTON1_PRESSED,
    VT_BUTTON1_RELEASED = BUTTON1_RELEASED,
    VT_BUTTON1_CLICKED = BUTTON1_CLICKED,
    VT_BUTTON2_PRESSED = BUTTON2_PRESSED,
    VT_BUTTON3_PRESSED = BUTTON3_PRESSED,
    VT_BUTTON4_PRESSED = BUTTON4_PRESSED,   /* wheel up */
    VT_BUTTON5_PRESSED = BUTTON5_PRESSED,   /* wheel down */
    VT_REPORT_MOUSE_POSITION = REPORT_MOUSE_POSITION,
};
/* What vt_mouse_read decoded. */
enum {
    VT_MOUSE_NONE = 0,
    VT_MOUSE_LEFT = 1,
    VT_MOUSE_MIDDLE = 2,
    VT_MOUSE_RIGHT = 3,
    VT_MOUSE_WHEEL_UP = 4,
    VT_MOUSE_WHEEL_DOWN = 5,
};
/* Enables press reports for buttons 1-3 and the wheel (mousemask + mouseinterval(0)).
   Returns 1 if the terminal reports any of them. */
int vt_mouse_enable(void);
/* After KEY_MOUSE: getmouse, decoded to a VT_MOUSE_* button at (*x, *y) (releases: VT_MOUSE_NONE). */
int vt_mouse_read(int *x, int *y);

/* ---- Colour pairs (extended: pair numbers and colours beyond 32767). */
/* init_extended_pair; colours are palette indices, 24-bit RGB in direct mode, or -1 (default). */
int vt_init_pair(int pair, int fg, int bg);
/* alloc_pair: a pair for (fg, bg) from ncurses's own LRU pool. */
int vt_alloc_pair(int fg, int bg);

/* ---- Drawing. */
/* Draws n wide characters (combining marks follow their base) at (y, x) with
   VT_ATTR_* bits and colour pair `pair` (any size: passed through the `opts`
   pointer of wattr_set). Returns ERR only if nothing could be drawn; writing
   the bottom-right cell is not an error. */
int vt_draw_run(WINDOW *win, int y, int x, const wchar_t *text, int n, unsigned int vt_attr_bits, int pair);

/* ---- Terminal set-up. */
/* What terminfo says about a terminal type without starting curses.
   Returns 1 if the entry exists; *colors (the `colors` number, -1 if absent),
   *direct (1 if the entry has the RGB flag or >= 2^24 colours) and
   *addressable (1 if it can move the cursor: `cup`).
   Only call while no screen is open. */
int vt_terminfo_probe(const char *name, int *colors, int *direct, int *addressable);
/* newterm(name, stdout, stdin) + set_term. NULL on failure. */
SCREEN *vt_newterm(const char *name);
/* The open screen's setaf (background 0) or setab (1) string, as curses uses it; NULL when
   the entry has none. */
const char *vt_color_string(int background);
/* Overwrites the open screen's setaf or setab in place with `replacement`, in both of ncurses'
   copies (what curses sends, and term.h's legacy copy). Refuses (0) a replacement longer than
   the current string; 1 when replaced. Curses expands the string with tparm at every colour
   change, so what it sends from then on follows. */
int vt_replace_color_string(int background, const char *replacement);
/* tiparm(format, value): what a one-parameter terminfo string expands to (static storage,
   valid until the next call; NULL on error). */
const char *vt_tiparm1(const char *format, int value);
/* Clears IXON (so Ctrl-S/Ctrl-Q reach the program) and records the result
   as curses' program mode (def_prog_mode). */
void vt_disable_flow_control(void);
/* set_escdelay(ms). */
int vt_set_escdelay(int milliseconds);

/* A cell's size in pixels from TIOCGWINSZ; 1 if the terminal reports it, else 0. */
int vt_cell_pixels(int fd, int *width, int *height);
/* TIOCGWINSZ: columns, rows and the text area in pixels (0 when unknown); 1 on success. */
int vt_winsize(int fd, int *cols, int *rows, int *xpixels, int *ypixels);
/* wredrawln(win, first, count): those lines are repainted in full at the next update. */
int vt_redraw_lines(WINDOW *win, int first, int count);
/* idcok(win, on). */
void vt_idcok(WINDOW *win, int on);

/* ---- Self-pipe, signals and the crash guard (guard.c). */
/* Creates the self-pipe (non-blocking, close-on-exec). Returns its read end, or -1 (errno set). */
int vt_pipe_open(void);
/* Closes the self-pipe. */
void vt_pipe_close(void);
/* Thread- and signal-safe: writes one byte meaning "wake up" to the self-pipe. */
void vt_wake(void);
/* Reads everything in the self-pipe. Returns the number of bytes read into
   `bytes` (at most `capacity`; the rest is drained and counted in *dropped).
   Byte 0 is a wake; any other byte is a signal number. */
int vt_pipe_drain(unsigned char *bytes, int capacity, int *dropped);
/* Saves the terminal modes (tcgetattr on stdin) for the crash guard. Call before newterm. */
void vt_guard_save_modes(void);
/* After newterm: builds the escape sequences that undo full-screen mode
   (rmcup, cnorm, sgr0, rmkx, mouse reporting off) from terminfo, installs
   the handlers (SIGINT, SIGTERM, SIGHUP -> self-pipe; SIGWINCH chained to
   ncurses' handler -> self-pipe; SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT,
   SIGFPE, SIGQUIT -> restore the terminal, then the previous handler or the
   default action) and registers (once) an atexit hook that calls endwin if
   the screen is still open. */
void vt_guard_arm(int mouse);
/* Restores every handler vt_guard_arm replaced and marks the screen closed. */
void vt_guard_disarm(void);
/* 1 between vt_guard_arm and vt_guard_disarm. */
int vt_guard_is_armed(void);
/* Bytes the crash path (fatal-signal handler, atexit hook while the screen is open) writes to
   stdout before leaving full-screen mode: GraphicsPainter.crashCleanup (kitty image deletes).
   Copies up to 8192 bytes; length 0 clears; longer input keeps nothing (never a cut sequence).
   UI thread only; the crash path reads it async-signal-safely. */
void vt_guard_set_cleanup(const unsigned char *bytes, int length);
