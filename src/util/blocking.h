/*
 * blocking.h - telling the worker pool that this thread is about to wait
 * without using the CPU.
 *
 * The pool lets only about two workers per core run request code at once,
 * so that cheap requests are not slowed by dozens of runnable threads; but
 * a worker waiting for its group commit's fsync uses no CPU, and while it
 * waits another worker should run (that is what fills the batches).  Code
 * that waits like that calls pa_blocking_begin() before and
 * pa_blocking_end() after; the pool installs the hooks per worker thread.
 * On any other thread the calls do nothing.
 */
#ifndef PA_UTIL_BLOCKING_H
#define PA_UTIL_BLOCKING_H

typedef void (*pa_blocking_fn)(void *arg);

/* Installs this thread's hooks (NULL: none). */
void pa_blocking_set(pa_blocking_fn begin, pa_blocking_fn end, void *arg);

void pa_blocking_begin(void);
void pa_blocking_end(void);

#endif
