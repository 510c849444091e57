#include "service_name.h"

#include <stdio.h>
#include <string.h>

void pp_service_name(const pp_options *o, char *out, size_t len)
{
    if (o->service[0]) {
        snprintf(out, len, "%s", o->service);
        return;
    }
    FILE *f = fopen("/proc/self/comm", "r");
    if (!f || !fgets(out, (int)len, f))
        snprintf(out, len, "app");
    if (f)
        fclose(f);
    out[strcspn(out, "\n")] = '\0';
}
