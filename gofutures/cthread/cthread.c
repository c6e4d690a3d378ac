/* cthread.c: the C half of package cthread (see cthread.go). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "_cgo_export.h"

static void *gf_cthread_main(void *arg) {
    gfCthreadMain((uintptr_t)arg);
    return NULL;
}

/* gf_cthread_start creates a detached thread that runs the Go function behind
 * handle. stack_size 0 keeps the platform default, as CPython's
 * PyThread_start_new_thread does. Returns 0 or an errno value. */
int gf_cthread_start(uintptr_t handle, size_t stack_size) {
    pthread_attr_t attr;
    pthread_t thread;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) return rc;
    if (stack_size != 0) rc = pthread_attr_setstacksize(&attr, stack_size);
    if (rc == 0) rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (rc == 0) rc = pthread_create(&thread, &attr, gf_cthread_main, (void *)handle);
    pthread_attr_destroy(&attr);
    return rc;
}

/* gf_cthread_stack_size returns the calling thread's stack size (0 if
 * unknown). */
size_t gf_cthread_stack_size(void) {
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
    return size;
}
