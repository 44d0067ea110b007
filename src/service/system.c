/* system.c - version and build time, fixed at configure time. */
#include "config.h"
#include "service/system.h"

#ifndef PA_BUILD_EPOCH
#define PA_BUILD_EPOCH 0
#endif

const char *pa_system_version(void)
{
    return PACKAGE_VERSION;
}

int64_t pa_system_build_time_ms(void)
{
    return (int64_t)PA_BUILD_EPOCH * 1000;
}
