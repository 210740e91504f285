/*
 * ncursesw wrappers for what Swift cannot import: macros, global variables,
 * stdio-based set-up and the extended-colour forms of the attribute calls.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <term.h>
#include "cncurses.h"

WINDOW *vt_stdscr(void) { return stdscr; }
WINDOW *vt_curscr(void) { return curscr; }
int vt_lines(void) { return LINES; }
int vt_cols(void) { return COLS; }
int vt_colors(void) { return COLORS; }
int vt_color_pairs(void) { return COLOR_PAIRS; }

void vt_getmaxyx(WINDOW *win, int *rows, int *cols) {
    int r = 0, c = 0;
    if (win) getmaxyx(win, r, c);
    *rows = r;
    *cols = c;
}

attr_t vt_attrs(unsigned int bits) {
    attr_t a = A_NORMAL;
    if (bits & VT_ATTR_BOLD) a |= A_BOLD;
    if (bits & VT_ATTR_UNDERLINE) a |= A_UNDERLINE;
    if (bits & VT_ATTR_REVERSE) a |= A_REVERSE;
    if (bits & VT_ATTR_DIM) a |= A_DIM;
    return a;
}

attr_t vt_color_pair_attr(int pair) { return (attr_t)COLOR_PAIR(pair); }

int vt_key_f(int n) { return KEY_F(n); }

int vt_get_wch(WINDOW *win, unsigned int *ch) {
    wint_t c = 0;
    int rc = wget_wch(win, &c);
    *ch = (unsigned int)c;
    return rc;
}

int vt_mouse_enable(void) {
    mmask_t wanted = BUTTON1_PRESSED | BUTTON2_PRESSED | BUTTON3_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED;
    mmask_t got = mousemask(wanted, NULL);
    /* Report presses at once: no waiting to synthesise clicks. */
    mouseinterval(0);
    return got != 0;
}

int vt_mouse_read(int *x, int *y) {
    MEVENT ev;
    if (getmouse(&ev) != OK) return VT_MOUSE_NONE;
    *x = ev.x;
    *y = ev.y;
    mmask_t s = ev.bstate;
    if (s & BUTTON4_PRESSED) return VT_MOUSE_WHEEL_UP;
    if (s & BUTTON5_PRESSED) return VT_MOUSE_WHEEL_DOWN;
    if (s & (BUTTON1_PRESSED | BUTTON1_CLICKED)) return VT_MOUSE_LEFT;
    if (s & (BUTTON2_PRESSED | BUTTON2_CLICKED)) return VT_MOUSE_MIDDLE;
    if (s & (BUTTON3_PRESSED | BUTTON3_CLICKED)) return VT_MOUSE_RIGHT;
    return VT_MOUSE_NONE;
}

int vt_init_pair(int pair, int fg, int bg) { return init_extended_pair(pair, fg, bg); }
int vt_alloc_pair(int fg, int bg) { return alloc_pair(fg, bg); }

int vt_draw_run(WINDOW *win, int y, int x, const wchar_t *text, int n, unsigned int bits, int pair) {
    int p = pair;
    /* With a non-null opts, ncurses takes the pair from *opts (any int), not from the short. */
    wattr_set(win, vt_attrs(bits), 0, &p);
    if (wmove(win, y, x) == ERR) return ERR;
    int rc = waddnwstr(win, text, n);
    /* Writing the last cell of the last row cannot move the cursor on: ncurses
       reports ERR although the cell was drawn. */
    if (rc == ERR && y == getmaxy(win) - 1) rc = OK;
    return rc;
}

int vt_terminfo_probe(const char *name, int *colors, int *direct, int *addressable) {
    int err = 0;
    *colors = -1;
    *direct = 0;
    *addressable = 0;
    if (name == NULL || *name == '\0') return 0;
    TERMINAL *previous = cur_term;
    /* Output to stderr's descriptor: setupterm only records it. */
    if (setupterm(name, STDERR_FILENO, &err) != OK) {
        set_curterm(previous);
        return 0;
    }
    TERMINAL *probed = cur_term;
    int n = tigetnum("colors");
    int rgb = tigetflag("RGB");
    *colors = n >= 0 ? n : -1;
    *direct = (rgb > 0 || n >= (1 << 24)) ? 1 : 0;
    const char *cup = tigetstr("cup");
    *addressable = (cup != NULL && cup != (char *)-1) ? 1 : 0;
    set_curterm(previous);
    if (probed != previous) del_curterm(probed);
    return 1;
}

SCREEN *vt_newterm(const char *name) {
    SCREEN *s = newterm(name, stdout, stdin);
    if (s) set_term(s);
    return s;
}

/* ncurses keeps two copies of a terminal's description: the one it works from (TERMTYPE2,
   with int numbers, read by tigetstr and by the colour code) and a legacy copy that term.h's
   macros such as set_a_foreground read and write. Each has its own string table, so assigning
   set_a_foreground changes nothing curses sends. The strings are rewritten in place instead,
   in both tables: they are ordinary heap memory of this terminal, and a replacement no longer
   than the original fits. */
static char *color_string(int background) {
    char *s = tigetstr(background ? "setab" : "setaf");
    return (s == NULL || s == (char *)-1) ? NULL : s;
}

const char *vt_color_string(int background) {
    if (cur_term == NULL) return NULL;
    return color_string(background);
}

int vt_replace_color_string(int background, const char *replacement) {
    if (cur_term == NULL || replacement == NULL) return 0;
    char *s = color_string(background);
    size_t n = strlen(replacement);
    if (s == NULL || n > strlen(s)) return 0;
    char *legacy = background ? set_a_background : set_a_foreground;
    memmove(s, replacement, n + 1);
    if (legacy != NULL && legacy != (char *)-1 && legacy != s && n <= strlen(legacy))
        memmove(legacy, replacement, n + 1);
    return 1;
}

const char *vt_tiparm1(const char *format, int value) {
    if (format == NULL) return NULL;
    return tiparm(format, value);
}

void vt_disable_flow_control(void) {
    struct termios t;
    if (tcgetattr(STDIN_FILENO, &t) != 0) return;
    t.c_iflag &= ~(tcflag_t)IXON;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) def_prog_mode();
}

int vt_set_escdelay(int milliseconds) { return set_escdelay(milliseconds); }

/* A cell's size in pixels from TIOCGWINSZ (ws_xpixel / ws_col, ws_ypixel / ws_row).
   1 when the terminal reports pixel sizes, else 0 (many report 0). */
#include <sys/ioctl.h>
int vt_cell_pixels(int fd, int *width, int *height) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    if (ws.ws_col == 0 || ws.ws_row == 0 || ws.ws_xpixel == 0 || ws.ws_ypixel == 0) return 0;
    *width = ws.ws_xpixel / ws.ws_col;
    *height = ws.ws_ypixel / ws.ws_row;
    return *width > 0 && *height > 0;
}

/* wredrawln: the next update repaints `count` lines from `first` in full, whatever curses
   believes is on them (a sixel or iTerm2 picture there went away). */
int vt_redraw_lines(WINDOW *win, int first, int count) { return wredrawln(win, first, count); }
/* idcok: whether curses may insert and delete characters (which would shift picture pixels). */
void vt_idcok(WINDOW *win, int on) { idcok(win, on ? TRUE : FALSE); }

/* The terminal's size from TIOCGWINSZ: columns, rows and the text area in pixels (0 when the
   terminal does not say). 1 on success, else 0. */
int vt_winsize(int fd, int *cols, int *rows, int *xpixels, int *ypixels) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    *cols = ws.ws_col; *rows = ws.ws_row; *xpixels = ws.ws_xpixel; *ypixels = ws.ws_ypixel;
    return 1;
}
