/* gf_chunk.h: one piece of a task payload handed from C to Go by address:
 * Python memory (a pickle frame, or a big buffer the pickler passed by
 * reference) that C keeps referenced until Go has written it and handed it
 * back (gfProcSubmitLent, gf_release_lent). */
#ifndef GOFUTURES_CHUNK_H
#define GOFUTURES_CHUNK_H

#include <stddef.h>

typedef struct {
    const char *data;
    size_t len;
} gf_chunk;

#endif
