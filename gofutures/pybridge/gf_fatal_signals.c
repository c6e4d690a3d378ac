/* gf_fatal_signals.c: a crash in C code on a gofutures thread (a task's
 * C extension that dereferences NULL, divides by zero, or touches a
 * truncated mapping) ends the process as it would without Go: killed by the
 * signal, silently, or by the handler the program had installed (Python's
 * faulthandler).
 *
 * Go installs its own handler for SIGSEGV, SIGBUS and SIGFPE when the
 * extension loads, and remembers the handler it replaced. A fault in C code
 * on a thread that runs Go (a pool worker) is passed on to that handler, but
 * only if there is one: when it was SIG_DFL, Go reports the fault itself, as
 * a Go crash (a 200-line goroutine dump, killed by SIGQUIT), where the stdlib's
 * worker thread would have been killed by SIGSEGV. So before Go's runtime
 * starts, each of these signals still at SIG_DFL gets a handler that does
 * what SIG_DFL does. Go still handles faults in Go code itself (they become
 * panics, which the bridge recovers). */
#include <signal.h>
#include <string.h>

/* Restores the default action and lets the signal take it: a fault
 * re-executes and is delivered again, a raised signal stays pending until
 * this handler returns. */
static void gf_die_by_default(int sig) {
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Runs when the extension is loaded, before Go's runtime initializes
 * (constructors with a priority run before the ones without, Go's among
 * them). */
__attribute__((constructor(101))) static void gf_default_fatal_signals(void) {
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) != 0) continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue; /* the program's own */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = gf_die_by_default;
        sa.sa_flags = SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}
