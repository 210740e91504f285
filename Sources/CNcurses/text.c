#define _XOPEN_SOURCE 700
#include <locale.h>
#include <langinfo.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>
#include "vt_text.h"

static int is_utf8(const char *cs) {
    return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "UTF8") == 0);
}

int vt_locale_init(void) {
    setlocale(LC_ALL, "");
    int user_utf8 = is_utf8(nl_langinfo(CODESET));
    if (!user_utf8) {
        if (!setlocale(LC_CTYPE, "C.UTF-8")) setlocale(LC_CTYPE, "en_US.UTF-8");
    }
    return user_utf8;
}

int vt_wcwidth(unsigned int codepoint) {
    return wcwidth((wchar_t)codepoint);
}
