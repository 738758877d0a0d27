#ifndef JCM_REFDATA_H
#define JCM_REFDATA_H
#include "internal.h"
extern const jcm_partner jcm_partners[];
extern const int jcm_partner_count;
#endif
