/* Engine internals shared with verify (replay) and queries. */
#ifndef JCM_ENGINE_H
#define JCM_ENGINE_H
#include "internal.h"
struct cmd_spec;
int jcm__load_self(jcm *j);
/* This node's registry and Party, read again when the last read failed:
 * a query or report must neither answer without them nor take the registry
 * for uninitialized. 0, or -1 when they still cannot be read (chk, when
 * given, then says so). */
int jcm__self(jcm *j, jcm_check *chk);
int jcm__apply_event(jcm_ctx *c, const struct cmd_spec *spec);
jcm_store *jcm__store(jcm *j);
#endif
