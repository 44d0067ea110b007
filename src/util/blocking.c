/*
 * blocking.c - per-thread hooks around waits, see blocking.h.
 */
#include <stddef.h>

#include "util/blocking.h"

static _Thread_local pa_blocking_fn hook_begin, hook_end;
static _Thread_local void *hook_arg;

void pa_blocking_set(pa_blocking_fn begin, pa_blocking_fn end, void *arg)
{
    hook_begin = begin;
    hook_end = end;
    hook_arg = arg;
}

void pa_blocking_begin(void)
{
    if (hook_begin != NULL)
        hook_begin(hook_arg);
}

void pa_blocking_end(void)
{
    if (hook_end != NULL)
        hook_end(hook_arg);
}
