#ifndef GF_INHERITED_H
#define GF_INHERITED_H

/* The RLIMIT_NOFILE the process had when the extension was loaded, before
 * Go's runtime raised its soft limit; 0 if it could not be read. */
int gf_inherited_file_limit(unsigned long long *soft, unsigned long long *hard);

/* Whether SIGXFSZ was ignored when the extension was loaded. */
int gf_xfsz_was_ignored(void);

/* Sets SIGPIPE and SIGXFSZ back to SIG_IGN, each if it was ignored when the
 * extension was loaded, behind Go's back: Go still counts them as its own,
 * so a child that Go forks resets them to their default before exec. */
void gf_reignore_signals(void);

#endif
