/* gf_inherited.c: what the process had before Go's runtime started, so that
 * pybridge can put it back (inherited.go).
 *
 * Go's runtime changes two process-wide settings when it starts:
 * - its syscall package raises the soft RLIMIT_NOFILE to the hard limit
 *   (go.dev/issue/46279: Go uses no select());
 * - it installs a handler for SIGPIPE, which Python ignores (and SIGXFSZ,
 *   once os/signal is asked for it), and a caught signal is reset to its
 *   default across exec where an ignored one stays ignored.
 * A program that loads gofutures would see the first in resource.getrlimit(),
 * and every child it starts (subprocess, os.system, os.exec*) would inherit
 * the raised limit and, outside subprocess (which resets both signals), the
 * default actions. So both are recorded here, before Go's runtime
 * initializes. */
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "gf_inherited.h"

static struct rlimit gf_file_limit;
static int gf_file_limit_recorded;
static int gf_pipe_ignored, gf_xfsz_ignored;

static int gf_ignored(int sig) {
    struct sigaction old;
    return sigaction(sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN;
}

/* Runs when the extension is loaded, before Go's runtime initializes
 * (constructors with a priority run before the ones without, Go's among
 * them). */
__attribute__((constructor(101))) static void gf_record_inherited(void) {
    gf_file_limit_recorded = getrlimit(RLIMIT_NOFILE, &gf_file_limit) == 0;
    gf_pipe_ignored = gf_ignored(SIGPIPE);
    gf_xfsz_ignored = gf_ignored(SIGXFSZ);
}

int gf_inherited_file_limit(unsigned long long *soft, unsigned long long *hard) {
    if (!gf_file_limit_recorded) return 0;
    *soft = (unsigned long long)gf_file_limit.rlim_cur;
    *hard = (unsigned long long)gf_file_limit.rlim_max;
    return 1;
}

static void gf_ignore(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int gf_xfsz_was_ignored(void) { return gf_xfsz_ignored; }

void gf_reignore_signals(void) {
    if (gf_pipe_ignored) gf_ignore(SIGPIPE);
    if (gf_xfsz_ignored) gf_ignore(SIGXFSZ);
}
