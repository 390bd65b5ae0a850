/*
 * memprof's interposer, linked into a program (the MemprofInterposer product) or
 * preloaded (libmemprof.so). Linking it is all a program needs: it replaces malloc
 * and friends for the whole process. MemprofKit reaches it through memprof_api.h.
 */
#ifndef MEMPROF_INTERPOSER_H
#define MEMPROF_INTERPOSER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Tells the leak checks that the live block starting at p is not a leak (like
 * LeakSanitizer's __lsan_ignore_object): it counts as reachable, and so does what it
 * points to. Returns 0, or -1 if p is not a live block memprof knows. */
int memprof_ignore_object(const void *p);

#ifdef __cplusplus
}
#endif

#endif
