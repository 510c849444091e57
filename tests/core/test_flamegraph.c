/* The flame graph page: one file, its data a tree merged from the root,
 * names that cannot break out of the page's script. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "polyprof.h"

int main(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec a[2] = {{0}}, b[2] = {{0}};
    a[0].name = "alpha"; /* leaf first */
    a[1].name = "main";
    b[0].name = "</script><script>alert(1)</script>";
    b[1].name = "main";
    int64_t va[2] = {3, 30000000}, vb[2] = {1, 10000000};
    CHECK_EQ_INT(pp_profile_append(p, a, 2, NULL, 0, va), 0);
    CHECK_EQ_INT(pp_profile_append(p, b, 2, NULL, 0, vb), 0);
    uint8_t *html = NULL;
    size_t len = 0;
    char err[256];
    CHECK_EQ_INT(pp_profile_encode(p, PP_FORMAT_HTML, 0, &html, &len, err, sizeof err), 0);
    const char *s = (const char *)html;
    CHECK(len > 1000 && strncmp(s, "<!DOCTYPE html>", 15) == 0);
    /* The tree: all 40 ms, main 40 ms at depth 1, alpha (the wider) first. */
    CHECK(strstr(s, "\"nodes\":[0,40000000,0,1,40000000,1,2,30000000,2,3,10000000,2]") != NULL);
    CHECK(strstr(s, "\"strings\":[\"all\",\"main\",\"alpha\",") != NULL);
    /* One </script> per script element of the page itself, none from a name. */
    int closes = 0;
    for (const char *q = s; (q = strstr(q, "</script>")); q++)
        closes++;
    CHECK_EQ_INT(closes, 2);
    CHECK(strstr(s, "\\u003c/script\\u003e") != NULL);
    CHECK(strstr(s, "http://") == NULL && strstr(s, "https://") == NULL); /* nothing fetched */
    free(html);
    pp_format f;
    CHECK(pp_format_from_path("flame.html", &f, err, sizeof err) == 0 && f == PP_FORMAT_HTML);
    CHECK(pp_format_from_name("flamegraph", &f, err, sizeof err) == 0 && f == PP_FORMAT_HTML);
    pp_profile_free(p);
    TEST_MAIN_END();
}
