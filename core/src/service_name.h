/* The service name that stored profiles and status reports carry: the
 * `service` option, else the program's name as ps shows it. */
#ifndef PP_SERVICE_NAME_H
#define PP_SERVICE_NAME_H

#include <stddef.h>

#include "polyprof.h"

void pp_service_name(const pp_options *o, char *out, size_t len);

#endif
