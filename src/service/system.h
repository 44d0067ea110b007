/* system.h - what the server says about itself (GetSystemStatus, /actuator/info). */
#ifndef PA_SERVICE_SYSTEM_H
#define PA_SERVICE_SYSTEM_H

#include <stdint.h>

const char *pa_system_version(void);        /* package version */
int64_t pa_system_build_time_ms(void);      /* when this binary was configured */

#endif
