// vitrine_new_pty_group and vitrine_open_pty_pair, declared in vitrine_support.h (posix_openpt and ptsname are not visible
// to Swift's Glibc module).
#define _GNU_SOURCE
#include "vitrine_support.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

long vitrine_new_pty_group(void) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    long group = -1;
    char name[128];
    struct stat st;
    if (unlockpt(master) == 0 && ptsname_r(master, name, sizeof name) == 0 && stat(name, &st) == 0) group = (long)st.st_gid;
    close(master);
    return group;
}

int vitrine_open_pty_pair(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0) return -1;
    char name[128];
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) { close(m); return -1; }
    int s = open(name, O_RDWR | O_NOCTTY);
    if (s < 0) { close(m); return -1; }
    *master = m;
    *slave = s;
    return 0;
}
