#pragma once
/* Text measuring helpers that Swift's Glibc module does not expose. */
/* Sets the locale from the environment; if its codeset is not UTF-8, sets
   LC_CTYPE to C.UTF-8 for measuring. Returns 1 if the user's locale was UTF-8. */
int vt_locale_init(void);
/* wcwidth(3) of one code point (-1: not printable). */
int vt_wcwidth(unsigned int codepoint);
