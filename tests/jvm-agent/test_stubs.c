/* The JVM agent's table of HotSpot's stubs, fed as JVMTI's
 * DynamicCodeGenerated feeds it: dispatch stubs are found by any pc inside
 * them; a stub GenerateEvents replays while it is still being generated
 * (no end yet: a garbage length, as JDK 21 reports when its compiler stubs
 * are generated beside the VM's start) covers nothing after it, and its
 * report once done holds; a replay of what is known adds nothing. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "stubs.h"

static const char *name_at(uintptr_t pc)
{
    int i = ppj_stubs_find(pc);
    return i < 0 ? NULL : ppj_stubs_name(i);
}

int main(void)
{
    static unsigned char code[1 << 16];
    uintptr_t base = (uintptr_t)code;

    ppj_stubs_on_generated(NULL, "StubRoutines::call_stub", code, 256);
    /* Being generated when replayed: begin set, end still 0, so its length
     * is 0 - begin as a jint, here 1.2 GB and -64 MB as seen on JDK 21. */
    ppj_stubs_on_generated(NULL, "kyberAddPoly_3", code + 512, 1210301888);
    ppj_stubs_on_generated(NULL, "lookup_hi_base64url", code + 1024, -64759552);
    ppj_stubs_on_generated(NULL, "vtable stub", code + 4096, 27);
    ppj_stubs_on_generated(NULL, "itable stub", code + 4160, 90);

    CHECK(name_at(base + 4096 + 10) && !strcmp(name_at(base + 4096 + 10), "vtable stub"));
    CHECK(ppj_stubs_find(base + 4096 + 10) >= 0 && ppj_stubs_frameless(ppj_stubs_find(base + 4096 + 10)));
    CHECK(name_at(base + 4160 + 89) && !strcmp(name_at(base + 4160 + 89), "itable stub"));
    CHECK(name_at(base + 4160 + 90) == NULL);
    CHECK(name_at(base + 100) && !strcmp(name_at(base + 100), "StubRoutines::call_stub"));
    CHECK(!ppj_stubs_frameless(ppj_stubs_find(base + 100)));
    CHECK(name_at(base + 600) == NULL);

    /* Done: reported with its real length. */
    ppj_stubs_on_generated(NULL, "kyberAddPoly_3", code + 512, 200);
    CHECK(name_at(base + 600) && !strcmp(name_at(base + 600), "kyberAddPoly_3"));
    CHECK(name_at(base + 712) == NULL);

    /* A replay of known stubs changes nothing. */
    ppj_stubs_on_generated(NULL, "vtable stub", code + 4096, 27);
    CHECK_EQ_INT(ppj_stubs_find(base + 4096), ppj_stubs_find(base + 4096 + 26));
    CHECK(ppj_stubs_start(ppj_stubs_find(base + 4096)) == base + 4096);

    if (pp_test_failures)
        fprintf(stderr, "%d check(s) failed\n", pp_test_failures);
    return pp_test_failures != 0;
}
