/* Engine internals shared with verify (replay) and queries. */
#ifndef JCM_ENGINE_H
#define JCM_ENGINE_H
#include "internal.h"
struct cmd_spec;
int jcm__load_self(jcm *j);
int jcm__apply_event(jcm_ctx *c, const struct cmd_spec *spec);
jcm_store *jcm__store(jcm *j);
#endif
