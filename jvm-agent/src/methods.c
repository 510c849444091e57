#include "methods.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agct.h"
#include "agent.h"

/* Set on threads the agent attaches itself; read by ThreadStart. */
static __thread int own_thread;
static pthread_key_t detach_key;
static pthread_once_t detach_once = PTHREAD_ONCE_INIT;

int ppj_methods_is_own_thread(void) { return own_thread; }

static void make_ids(jvmtiEnv *jvmti, jclass klass)
{
    jint n = 0;
    jmethodID *methods = NULL;
    /* GetClassMethods creates the jmethodIDs as a side effect: that is the
     * point; the array itself is not needed. */
    if ((*jvmti)->GetClassMethods(jvmti, klass, &n, &methods) == JVMTI_ERROR_NONE && methods)
        (*jvmti)->Deallocate(jvmti, (unsigned char *)methods);
}

void JNICALL ppj_on_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass)
{
    (void)jni;
    (void)thread;
    make_ids(jvmti, klass);
}

void ppj_methods_prime(jvmtiEnv *jvmti, JNIEnv *jni)
{
    jint n = 0;
    jclass *classes = NULL;
    if ((*jvmti)->GetLoadedClasses(jvmti, &n, &classes) != JVMTI_ERROR_NONE)
        return;
    for (jint i = 0; i < n; i++) {
        jint status = 0;
        if ((*jvmti)->GetClassStatus(jvmti, classes[i], &status) == JVMTI_ERROR_NONE &&
            (status & JVMTI_CLASS_STATUS_PREPARED))
            make_ids(jvmti, classes[i]);
        (*jni)->DeleteLocalRef(jni, classes[i]);
    }
    (*jvmti)->Deallocate(jvmti, (unsigned char *)classes);
}

static void detach_on_exit(void *unused)
{
    (void)unused;
    (*ppj.vm)->DetachCurrentThread(ppj.vm);
}

static void make_detach_key(void) { pthread_key_create(&detach_key, detach_on_exit); }

/* JVMTI serves attached threads only: the drain thread (a plain pthread of
 * the core) attaches once, as a daemon so it never holds the VM up, and
 * detaches when it ends. */
int ppj_resolve_begin(void *ctx)
{
    (void)ctx;
    JNIEnv *env = NULL;
    jint rc = (*ppj.vm)->GetEnv(ppj.vm, (void **)&env, JNI_VERSION_1_6);
    if (rc == JNI_OK)
        return 0;
    if (rc != JNI_EDETACHED)
        return -1;
    pthread_once(&detach_once, make_detach_key);
    JavaVMAttachArgs args = {JNI_VERSION_1_6, (char *)"polyprof", NULL};
    own_thread = 1;
    if ((*ppj.vm)->AttachCurrentThreadAsDaemon(ppj.vm, (void **)&env, &args) != JNI_OK) {
        own_thread = 0;
        return -1;
    }
    pthread_setspecific(detach_key, (void *)1);
    return 0;
}

void ppj_resolve_end(void *ctx) { (void)ctx; }

void ppj_class_name(const char *sig, char *out, size_t len)
{
    int dims = 0;
    while (sig[dims] == '[')
        dims++;
    const char *base = sig + dims;
    char tmp[512];
    static const struct {
        char c;
        const char *name;
    } prims[] = {{'Z', "boolean"}, {'B', "byte"}, {'C', "char"},  {'S', "short"},
                 {'I', "int"},     {'J', "long"}, {'F', "float"}, {'D', "double"}, {'V', "void"}};
    tmp[0] = '\0';
    if (*base == 'L') {
        size_t n = strlen(base + 1);
        if (n && base[n] == ';')
            n--;
        if (n >= sizeof tmp)
            n = sizeof tmp - 1;
        memcpy(tmp, base + 1, n);
        tmp[n] = '\0';
        for (char *p = tmp; *p; p++)
            if (*p == '/')
                *p = '.';
    } else {
        for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
            if (prims[i].c == *base)
                snprintf(tmp, sizeof tmp, "%s", prims[i].name);
        if (!tmp[0])
            snprintf(tmp, sizeof tmp, "%s", base);
    }
    size_t w = (size_t)snprintf(out, len, "%s", tmp);
    for (int d = 0; d < dims && w + 2 < len; d++, w += 2)
        memcpy(out + w, "[]", 3);
}

static int line_of(jvmtiEnv *jvmti, jmethodID m, jint bci)
{
    jint n = 0;
    jvmtiLineNumberEntry *table = NULL;
    if (bci < 0 || (*jvmti)->GetLineNumberTable(jvmti, m, &n, &table) != JVMTI_ERROR_NONE || !table)
        return 0;
    int line = 0;
    jlocation best = -1;
    for (jint i = 0; i < n; i++) {
        if (table[i].start_location <= bci && table[i].start_location > best) {
            best = table[i].start_location;
            line = table[i].line_number;
        }
    }
    (*jvmti)->Deallocate(jvmti, (unsigned char *)table);
    return line;
}

/* Names "com.example.Foo.bar", file "com/example/Foo.java", the line of the
 * frame's bci. A method whose class was unloaded, or whose id slot now holds
 * another method, cannot be named (-1): the core shows "[unresolved frame]". */
int ppj_resolve(void *ctx, const pp_raw_frame *f, pp_resolved_frame *out)
{
    (void)ctx;
    const char *err_name = ppj_agct_error_name(f);
    if (err_name) {
        snprintf(out->name, sizeof out->name, "%s", err_name);
        return 0;
    }
    jmethodID m = (jmethodID)f->code;
    /* jmethodID slots are never freed, only cleared or reused: reading one
     * is safe, and a different Method* means a different method. */
    if (*(volatile uintptr_t *)(void *)m != f->check)
        return -1;
    jvmtiEnv *jvmti = ppj.jvmti;
    JNIEnv *jni = NULL;
    if ((*ppj.vm)->GetEnv(ppj.vm, (void **)&jni, JNI_VERSION_1_6) != JNI_OK)
        return -1;
    jclass klass = NULL;
    char *name = NULL, *sig = NULL, *src = NULL;
    int rc = -1;
    if ((*jvmti)->GetMethodDeclaringClass(jvmti, m, &klass) != JVMTI_ERROR_NONE || !klass)
        goto out;
    if ((*jvmti)->GetMethodName(jvmti, m, &name, NULL, NULL) != JVMTI_ERROR_NONE)
        goto out;
    if ((*jvmti)->GetClassSignature(jvmti, klass, &sig, NULL) != JVMTI_ERROR_NONE)
        goto out;
    char cls[384];
    ppj_class_name(sig, cls, sizeof cls);
    /* Long names are cut, not refused. */
    if (snprintf(out->name, sizeof out->name, "%s.%s", cls, name) >= (int)sizeof out->name)
        out->name[sizeof out->name - 1] = '\0';
    if ((*jvmti)->GetSourceFileName(jvmti, klass, &src) == JVMTI_ERROR_NONE && src) {
        /* The package's directory and the source file, as in a source tree. */
        const char *dot = strrchr(cls, '.');
        if (dot) {
            size_t dir = (size_t)(dot - cls);
            char pkg[384];
            memcpy(pkg, cls, dir);
            pkg[dir] = '\0';
            for (char *p = pkg; *p; p++)
                if (*p == '.')
                    *p = '/';
            snprintf(out->file, sizeof out->file, "%s/%s", pkg, src);
        } else {
            snprintf(out->file, sizeof out->file, "%s", src);
        }
    }
    out->line = line_of(jvmti, m, (jint)f->offset);
    rc = 0;
out:
    if (name)
        (*jvmti)->Deallocate(jvmti, (unsigned char *)name);
    if (sig)
        (*jvmti)->Deallocate(jvmti, (unsigned char *)sig);
    if (src)
        (*jvmti)->Deallocate(jvmti, (unsigned char *)src);
    if (klass)
        (*jni)->DeleteLocalRef(jni, klass);
    return rc;
}
